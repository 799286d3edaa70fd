"""PNG masks: reading (label or binary masks as 2-D uint8 arrays) and writing (atomic, Pillow).

``read_png`` returns the stored sample values: palette indices for palette PNGs, grey levels for grey PNGs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyspng
from PIL import Image

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel PNG as a 2-D uint8 array; a corrupt or unreadable file is a SavkitError."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SavkitError(f"cannot read {path}: {exc.strerror}") from None
    return decode_png(data, path)


def decode_png(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode PNG bytes to a 2-D array of stored sample values."""
    is_palette = len(data) > 25 and data[25] == 3  # IHDR colour type 3: pyspng would expand it to RGB
    try:
        array = _decode_with_pillow(data, path) if is_palette else pyspng.load(data)
    except SavkitError:
        raise
    except Exception:
        array = _decode_with_pillow(data, path)
    if array.ndim == 3:
        if array.shape[2] != 1:
            raise SavkitError(f"{path}: a mask PNG must be single-channel (grey or palette), not {array.shape[2]} channels")
        array = array[:, :, 0]
    return array


def _decode_with_pillow(data: bytes, path: str | os.PathLike) -> np.ndarray:
    import io

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.array(image)
    except Exception as exc:
        raise SavkitError(f"{path}: not a readable PNG ({exc}); re-export the mask") from None


def write_png(path: str | os.PathLike, array: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write a 2-D uint8 array as a grey PNG, or as a palette PNG when ``palette`` (N x 3 uint8) is given."""
    pixels = np.ascontiguousarray(array, dtype=np.uint8)
    if palette is None:
        image = Image.fromarray(pixels)
    else:
        # Image.fromarray(..., mode="P") remaps the values in recent Pillow: build the palette image from raw bytes.
        image = Image.frombytes("P", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
