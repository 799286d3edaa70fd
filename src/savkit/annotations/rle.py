"""COCO run-length encoding (RLE) of boolean masks, with pycocotools doing the work.

SA-V stores every mask as a compressed COCO RLE ``{"size": [h, w], "counts": str}`` (column-major runs).
Area and bounding box are read from the runs without decoding the mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

from savkit.errors import SavkitError
from savkit.io.limits import check_size

# pycocotools 2.0.11 with numpy 2 overflows in ``area`` for a list of >= 256 RLEs (it sizes an index as uint8).
_AREA_BATCH = 255
_PIECE_CHARS = 1 << 13  # RLE characters parsed per vectorised pass (see counts_problems)


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

    The size is checked against the pixel limit (:mod:`savkit.io.limits`) and the runs are checked (~0.1 ms, a
    sixth of decoding an 848x480 mask) first: pycocotools writes past its buffer when the runs of a corrupt
    ``counts`` add up to more than height x width.
    """
    check_size(*rle["size"], "RLE mask")
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
    """The run lengths (0s, 1s, 0s... column-major) in one compressed ``counts`` string; None if malformed."""
    runs, _, malformed = _parse_runs([counts])
    return None if malformed[0] else runs


def counts_problem(rle: dict) -> str | None:
    """Why an RLE's runs do not exactly cover its ``size`` (corrupt or cut ``counts``), or None if they do."""
    return counts_problems([rle])[0]


def counts_problems(rles: list[dict]) -> list[str | None]:
    """:func:`counts_problem` of many RLEs, parsed in vectorised passes over pieces of about ``_PIECE_CHARS``
    characters: a whole JSON's temporaries (MBs) would be fresh memory each time, and page faults then cost more
    than the parsing (8x slower when measured under load)."""
    problems: list[str | None] = []
    start, chars = 0, 0
    for end, rle in enumerate(rles, 1):
        chars += len(rle["counts"])
        if chars >= _PIECE_CHARS or end == len(rles):
            problems += _piece_counts_problems(rles[start:end])
            start, chars = end, 0
    return problems


def _piece_counts_problems(rles: list[dict]) -> list[str | None]:
    runs, owner, malformed = _parse_runs([r["counts"] for r in rles])
    totals = np.bincount(owner, weights=runs, minlength=len(rles))
    negative = np.bincount(owner[runs < 0], minlength=len(rles)) > 0
    pixels = np.array([h * w for h, w in (r["size"] for r in rles)], dtype=np.int64)
    problems: list[str | None] = [None] * len(rles)
    for i in np.flatnonzero(malformed | negative | (totals != pixels)):
        height, width = rles[i]["size"]
        if malformed[i]:
            problems[i] = "counts is not a valid compressed RLE string"
        elif negative[i]:
            problems[i] = "counts has a negative run"
        else:
            problems[i] = f"runs cover {int(totals[i])} pixels, not {height} x {width} = {height * width}"
    return problems


@dataclass(frozen=True)
class CorruptRle:
    """The first RLE of a file whose runs do not cover its size, why, and how many RLEs of the file are so."""

    frame: int
    masklet: int
    reason: str
    count: int

    @property
    def field(self) -> str:
        """Where it is in an SA-V JSON: ``masklet[annotated frame][masklet index].counts``."""
        return f"masklet[{self.frame}][{self.masklet}].counts"

    @property
    def found(self) -> str:
        """The reason, with how many more RLEs are corrupt."""
        return self.reason + (f" (+{self.count - 1} more)" if self.count > 1 else "")


def first_corrupt(frames: list[list[dict]]) -> CorruptRle | None:
    """The first RLE (annotated frame by frame, as in a JSON's ``masklet``) whose runs do not exactly cover its
    size, or None: the one check of ``savkit validate`` and ``savkit index`` (one vectorised pass over the file)."""
    places = [(k, j) for k, frame in enumerate(frames) for j in range(len(frame))]
    reasons = counts_problems([frames[k][j] for k, j in places])
    bad = [(place, why) for place, why in zip(places, reasons, strict=True) if why]
    if not bad:
        return None
    (k, j), why = bad[0]
    return CorruptRle(k, j, why, len(bad))


def _parse_runs(counts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode compressed ``counts`` strings: (run lengths, index of the string of each run, malformed strings).

    COCO's compressed format stores each run in 5-bit groups (character - 48; bit 0x20 = another group follows,
    bit 0x10 of the last group = negative) and, from the fourth run on, as a difference to the run two before.
    """
    count = len(counts)
    malformed = np.array([not c.isascii() for c in counts], dtype=bool)
    encoded = [c.encode("ascii", "replace") for c in counts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=count)
    string_ends = np.cumsum(lengths)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8) - np.uint8(48)  # below "0" wraps above 63
    if data.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), malformed
    bad = np.flatnonzero(data > 63)
    if bad.size:
        malformed[np.searchsorted(string_ends, bad, side="right")] = True
    is_last = data < 0x20  # no "another group follows" bit (other bytes are in malformed strings anyway)
    last_chars = string_ends[lengths > 0] - 1
    malformed[lengths > 0] |= ~is_last[last_chars]
    is_last[last_chars] = True  # a value cut short ends with its string (the string is malformed anyway)
    last = np.flatnonzero(is_last)
    runs_per_string = np.diff(np.searchsorted(last, string_ends), prepend=0)
    owner = np.repeat(np.arange(count), runs_per_string)  # string index of each run
    first = np.empty_like(last)
    first[0] = 0
    first[1:] = last[:-1] + 1
    groups = last - first + 1
    most = int(groups.max())
    if most > 12:
        malformed[owner[groups > 12]] = True  # over 60 bits: no image has such a run
    low = data & np.uint8(0x1F)
    runs = low[first].astype(np.int64)
    for group in range(1, min(most, 12)):
        longer = np.flatnonzero(groups > group)
        runs[longer] |= low[first[longer] + group].astype(np.int64) << (5 * group)
    negative = np.flatnonzero(data[last] & 0x10)
    runs[negative] -= np.int64(1) << (5 * np.minimum(groups[negative], 12))
    _undo_differences(runs, runs_per_string)
    return runs, owner, malformed


def _undo_differences(runs: np.ndarray, runs_per_string: np.ndarray) -> None:
    """In place, within each string: run[m] += run[m - 2] for m > 2, as cumulative sums over odd and even m >= 2."""
    string_firsts = np.cumsum(runs_per_string) - runs_per_string
    index = np.arange(runs.size) - np.repeat(string_firsts, runs_per_string)  # run index in its string
    chains = ((index & 1) == 1, ((index & 1) == 0) & (index >= 2))
    chain_lengths = (runs_per_string // 2, np.maximum(runs_per_string - 1, 0) // 2)
    for chain, per_string in zip(chains, chain_lengths, strict=True):
        positions = np.flatnonzero(chain)
        sums = np.cumsum(runs[positions])
        before = np.cumsum(per_string) - per_string  # chain elements of the strings before
        runs[positions] = sums - np.concatenate(([0], sums))[np.repeat(before, per_string)]
