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
    """Decode one COCO RLE to a C-contiguous boolean (height, width) array.

    The runs are checked first (about 5% of the decoding time): pycocotools writes past its buffer when the
    runs of a corrupt ``counts`` add up to more than height x width.
    """
    problem = counts_problem(rle)
    if problem:
        raise SavkitError(f"corrupt RLE mask ({problem}); re-download the annotation file")
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


def run_lengths(counts: str) -> np.ndarray | None:
    """The run lengths (0s, 1s, 0s... column-major) in a compressed ``counts`` string; None if it is malformed.

    COCO's compressed format stores each run in 5-bit groups (character - 48; bit 0x20 = more groups follow,
    bit 0x10 of the last group = negative), and from the fourth run on as a difference to the run two before.
    """
    try:
        data = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    except UnicodeEncodeError:
        return None
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    last = np.flatnonzero((data & 0x20) == 0)
    if data.min() < 0 or data.max() > 63 or last.size == 0 or last[-1] != data.size - 1:
        return None
    first = np.concatenate(([0], last[:-1] + 1))
    groups = last - first + 1
    if groups.max() > 12:  # more than 60 bits: not a run length of any image
        return None
    shift = 5 * (np.arange(data.size) - np.repeat(first, groups))
    runs = np.add.reduceat((data & 0x1F) << shift, first)
    negative = (data[last] & 0x10) != 0
    runs[negative] -= np.int64(1) << (5 * groups[negative])
    runs[3::2] = np.cumsum(runs[1::2])[1:]
    runs[4::2] = np.cumsum(runs[2::2])[1:]
    return runs


def counts_problem(rle: dict) -> str | None:
    """Why an RLE's runs do not exactly cover its ``size`` (corrupt or cut ``counts``), or None if they do."""
    height, width = rle["size"]
    runs = run_lengths(rle["counts"])
    if runs is None:
        return "counts is not a valid compressed RLE string"
    if runs.size and runs.min() < 0:
        return "counts has a negative run"
    if int(runs.sum()) != height * width:
        return f"runs cover {int(runs.sum())} pixels, not {height} x {width} = {height * width}"
    return None
