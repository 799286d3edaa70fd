"""COCO run-length encoding (RLE) of boolean masks, with pycocotools doing the work.

SA-V stores every mask as a compressed COCO RLE ``{"size": [h, w], "counts": str}`` (column-major runs).
Area and bounding box are read from the runs without decoding the mask.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils

from savkit.errors import SavkitError

# pycocotools 2.0.11 with numpy 2 overflows in ``area`` for a list of >= 256 RLEs (it sizes an index as uint8).
_AREA_BATCH = 255


def encode(mask: np.ndarray) -> dict:
    """Encode a 2-D mask (any dtype, non-zero = inside, C or Fortran order) as a COCO RLE with ``counts`` as str."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise SavkitError(
            f"cannot encode a mask of shape {array.shape}: a mask is a 2-D (height, width) array"
        )
    rle = mask_utils.encode(np.asfortranarray(array != 0, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode(rle: dict) -> np.ndarray:
    """Decode one COCO RLE to a C-contiguous boolean (height, width) array."""
    return np.ascontiguousarray(mask_utils.decode(rle).view(bool))


def area(rles: list[dict]) -> np.ndarray:
    """Pixel count of each RLE as int64, from the runs (no decoding); safe for any number of RLEs."""
    areas = [mask_utils.area(rles[start : start + _AREA_BATCH]) for start in range(0, len(rles), _AREA_BATCH)]
    return np.concatenate(areas).astype(np.int64) if areas else np.zeros(0, dtype=np.int64)


def bbox(rles: list[dict]) -> np.ndarray:
    """Bounding box (x, y, w, h) of each RLE as a float64 (N, 4) array; an empty mask gives zeros."""
    if not rles:
        return np.zeros((0, 4), dtype=np.float64)
    return np.asarray(mask_utils.toBbox(list(rles)), dtype=np.float64).reshape(len(rles), 4)
