"""The one limit on image sizes: a PNG header or an annotation JSON declaring more pixels than this is refused
before anything is decoded or allocated (a 1 KB file can declare a 100000 x 100000 image).

The default, 2^28 pixels (16384 x 16384), is far above SA-V's videos (at most a few megapixels) and is of the order
of Pillow's decompression-bomb limit. Raise it with the environment variable ``SAVKIT_MAX_PIXELS`` (read at each
check, also by worker processes; set it on Dask workers too).
"""

from __future__ import annotations

import os

from savkit.errors import SavkitError

MAX_PIXELS_VARIABLE = "SAVKIT_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 1 << 28


def max_pixels() -> int:
    """The pixel limit: ``SAVKIT_MAX_PIXELS`` if set (a positive integer), else :data:`DEFAULT_MAX_PIXELS`."""
    text = os.environ.get(MAX_PIXELS_VARIABLE)
    if text is None or not text.strip():
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise SavkitError(
            f"{MAX_PIXELS_VARIABLE}={text!r} is not a positive whole number of pixels: fix or unset it"
        )
    return value


def size_problem(height: int, width: int) -> str | None:
    """Why a declared ``height`` x ``width`` is refused (over the pixel limit), or None if it is within it."""
    limit = max_pixels()
    if height * width <= limit:
        return None
    return (
        f"{height} x {width} = {height * width:,} pixels is over the limit of {limit:,} "
        f"(a corrupt or hostile file? if the size is real, raise {MAX_PIXELS_VARIABLE})"
    )


def check_size(height: int, width: int, where: str | os.PathLike) -> None:
    """Raise a SavkitError naming ``where`` if ``height`` x ``width`` is over the pixel limit."""
    problem = size_problem(height, width)
    if problem:
        raise SavkitError(f"{where}: declared size {problem}")
