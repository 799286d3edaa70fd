"""Mask PNG decode time: savkit's decoder against pyspng and Pillow, from bytes, on SA-V-like masks.

Masks are a few smooth blobs per object, written as 0/255 grey by Pillow (the SA-V release format) and by OpenCV,
and as label masks with several objects (the DAVIS layout) by Pillow with a 256-colour palette (8-bit samples, as
DAVIS tools write them) and with a 5-colour palette (Pillow then writes 4-bit samples, with row filters). The
Paeth-heavy kind is filled ellipses drawn as savkit.demo draws them, written 0/255 by Pillow, keeping those for which
Pillow chose the most Average/Paeth rows (about 2 in 5 get any; these go partly through libspng). Every
decoder runs on the same bytes, interleaved round by round so machine noise hits all alike; the best round is
reported per mask.

    python benchmarks/bench_png.py --repeat 30
"""

from __future__ import annotations

import argparse
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pyspng
from PIL import Image

from savkit.io.png import decode_png

SIZES = {"848x480": (480, 848), "1920x1080": (1080, 1920)}
DAVIS_PALETTE = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]], np.uint8)


def blob_mask(height: int, width: int, rng: np.random.Generator, blobs: int) -> np.ndarray:
    """A union of wobbly, tilted ellipses, each 0.5-8% of the frame: smooth boundaries like SA-V masklets."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    mask = np.zeros((height, width), bool)
    for _ in range(blobs):
        cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
        area = rng.uniform(0.005, 0.08) * height * width
        aspect = rng.uniform(0.5, 2)
        ry, rx = np.sqrt(area / np.pi * aspect), np.sqrt(area / np.pi / aspect)
        tilt = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u, v = dy * np.cos(tilt) + dx * np.sin(tilt), dx * np.cos(tilt) - dy * np.sin(tilt)
        wobble = 1 + 0.1 * np.sin(3 * np.arctan2(u, v) + rng.uniform(0, 2 * np.pi))
        mask |= (u / ry) ** 2 + (v / rx) ** 2 < wobble**2
    return mask


def pillow_png(array: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    image = Image.fromarray(array, mode="L" if palette is None else "P")
    if palette is not None:
        image.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def demo_ellipse(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A filled, tilted ellipse 8-30% of the frame wide, as savkit.demo draws its objects."""
    mask = np.zeros((height, width), np.uint8)
    centre = (int(rng.uniform(0.25, 0.75) * width), int(rng.uniform(0.25, 0.75) * height))
    axes = (int(rng.uniform(0.04, 0.15) * width), int(rng.uniform(0.04, 0.15) * height))
    return cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 255, thickness=-1)


def average_or_paeth_rows(data: bytes) -> int:
    """How many rows of an 8-bit grey PNG use the Average or Paeth filter."""
    position, idat, width = 8, [], 0
    while position < len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        if kind == b"IHDR":
            width = struct.unpack_from(">I", data, position + 8)[0]
        elif kind == b"IDAT":
            idat.append(data[position + 8 : position + 8 + length])
        position += length + 12
    filters = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)[:: width + 1]
    return int((filters >= 3).sum())


def paeth_heavy(height: int, width: int, count: int, rng: np.random.Generator) -> list[bytes]:
    """The ``count`` Pillow-written demo ellipses with the most Average/Paeth rows, out of ``8 * count``."""
    candidates = [pillow_png(demo_ellipse(height, width, rng)) for _ in range(8 * count)]
    return sorted(candidates, key=average_or_paeth_rows, reverse=True)[:count]


def mask_sets(height: int, width: int, count: int, rng: np.random.Generator) -> dict[str, list[bytes]]:
    """``count`` PNGs of each kind at one size: SA-V per-object 0/255 masks and DAVIS label masks."""
    binary = [blob_mask(height, width, rng, int(rng.integers(1, 4))) for _ in range(count)]
    labels = []
    for _ in range(count):
        label = np.zeros((height, width), np.uint8)
        for obj in range(1, int(rng.integers(2, 5)) + 1):
            label[blob_mask(height, width, rng, 1)] = obj
        labels.append(label)
    grey = [(mask * 255).astype(np.uint8) for mask in binary]
    full_palette = np.zeros((256, 3), np.uint8)
    full_palette[: len(DAVIS_PALETTE)] = DAVIS_PALETTE
    return {
        "grey, Pillow": [pillow_png(array) for array in grey],
        "grey, OpenCV": [cv2.imencode(".png", array)[1].tobytes() for array in grey],
        "palette 8-bit": [pillow_png(label, full_palette) for label in labels],
        "palette 4-bit": [pillow_png(label, DAVIS_PALETTE) for label in labels],
        "Paeth-heavy": paeth_heavy(height, width, count, rng),
    }


def decoders() -> dict[str, callable]:
    return {
        "savkit": decode_png,
        "pyspng": pyspng.load,
        "Pillow": lambda data: np.array(Image.open(io.BytesIO(data))),
    }


def best_times(pngs: list[bytes], repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` seconds per PNG for each decoder, rounds interleaved."""
    best = dict.fromkeys(decoders(), float("inf"))
    for _ in range(repeat):
        for name, decode in decoders().items():
            start = time.perf_counter()
            for data in pngs:
                decode(data)
            best[name] = min(best[name], (time.perf_counter() - start) / len(pngs))
    return best


def check_identical(pngs: list[bytes]) -> None:
    for data in pngs:
        if not np.array_equal(decode_png(data), np.array(Image.open(io.BytesIO(data)))):
            raise SystemExit("savkit and Pillow disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timing rounds (best is kept)")
    parser.add_argument("--masks", type=int, default=8, help="PNGs per kind and size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(
        f"{'size':<10} {'kind':<16} {'savkit ms':>9} {'pyspng ms':>9} {'Pillow ms':>9} {'pyspng/savkit':>13} "
        f"{'Pillow/savkit':>13}"
    )
    for size, (height, width) in SIZES.items():
        for kind, pngs in mask_sets(height, width, args.masks, rng).items():
            check_identical(pngs)
            t = best_times(pngs, args.repeat)
            print(
                f"{size:<10} {kind:<16} {t['savkit'] * 1e3:9.3f} {t['pyspng'] * 1e3:9.3f} {t['Pillow'] * 1e3:9.3f} "
                f"{t['pyspng'] / t['savkit']:12.2f}x {t['Pillow'] / t['savkit']:12.2f}x"
            )


if __name__ == "__main__":
    main()
