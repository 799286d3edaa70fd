"""Recompute a masklet's stored metadata from its masks, and compare it with what the JSON stores.

Definitions (SA-V dataset README), as checked against the released sample sav_000001 (manual and auto):

- A masklet is *visible* on an annotated frame when its mask has at least one pixel.
- ``size_abs``: mean mask area in pixels over the annotated frames where it is visible;
  ``size_rel`` = ``size_abs`` / (video height x width).
- ``size_bucket``: "small" below 32², "medium" from 32² to below 96², "large" from 96². The README leaves
  size_abs = 96² and size_abs < 1 (never visible) unassigned; we follow the COCO convention (96² is "large",
  anything below 32² is "small").
- ``visibility_changes``: visible <-> invisible switches *after* the first appearance. Evidence: manual
  masklet 3 is empty on annotated frames 0..112 and visible from 113 on; it stores 0, not 1.
- ``first_appeared_frame``: the first visible **annotated** frame index (6 fps), not a 24 fps video frame
  index as the README's wording suggests. Evidence: manual masklet 3 stores 113 and its first non-empty RLE
  is list entry 113 (video frame 452). Auto masklets store 0 ("always 0 for auto masklets", README); we
  return 0 for them.
- ``frame_count``: the number of annotated frames, visible or not. Evidence: manual masklet 0 is visible on
  120 of its 121 annotated frames and masklet 3 on 8; both store 121.

Release precision: manual JSONs store ``size_abs`` and ``size_rel`` rounded to 10 decimal places (evidence:
1434.8083333333 stored for a recomputed 1434.808333333333), auto JSONs at full float64 precision. The
recomputed values are rounded the same way, and floats are compared with ``math.isclose(rel_tol=1e-9)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from savkit.annotations import rle
from savkit.annotations.model import FRAMES_PER_ANNOTATION, Masklet

SMALL_LIMIT = 32**2
LARGE_LIMIT = 96**2
MANUAL_DECIMALS = 10
FLOAT_REL_TOL = 1e-9
# A mask read from a PNG is binary: thresholding it anywhere gives the same mask, so SAM's stability score (the
# IoU of the mask thresholded above and below its cut-off) is 1 on every frame.
IMPORTED_STABILITY_SCORE = 1.0


@dataclass(frozen=True)
class MaskletMetadata:
    """The metadata fields that follow from a masklet's masks (names as on :class:`Masklet`)."""

    size_rel: float
    size_abs: float
    size_bucket: str
    visibility_changes: int
    first_appeared_frame: int
    frame_count: int


@dataclass(frozen=True)
class MetadataMismatch:
    """One field whose stored value differs from the value recomputed from the masks."""

    field: str
    stored: object
    recomputed: object


def size_bucket(size_abs: float) -> str:
    if size_abs < SMALL_LIMIT:
        return "small"
    return "medium" if size_abs < LARGE_LIMIT else "large"


def recompute_metadata(rles: list[dict], masklet_type: str, resolution: int) -> MaskletMetadata:
    """Metadata of a masklet from its RLEs (areas only, no decoding), at the precision the release stores."""
    areas = rle.area(rles)
    visible = areas > 0
    appeared = np.flatnonzero(visible)
    first = int(appeared[0]) if appeared.size else 0
    size_abs = float(areas[visible].sum() / appeared.size) if appeared.size else 0.0
    size_rel = size_abs / resolution if resolution else 0.0
    if masklet_type == "manual":
        size_abs, size_rel = round(size_abs, MANUAL_DECIMALS), round(size_rel, MANUAL_DECIMALS)
    return MaskletMetadata(
        size_rel=size_rel,
        size_abs=size_abs,
        size_bucket=size_bucket(size_abs),
        visibility_changes=int(np.count_nonzero(visible[first + 1 :] != visible[first:-1])),
        first_appeared_frame=0 if masklet_type == "auto" else first,
        frame_count=len(rles),
    )


def metadata_mismatches(masklet: Masklet, resolution: int) -> list[MetadataMismatch]:
    """Fields of ``masklet`` whose stored value disagrees with the recomputed one (floats: rel_tol=1e-9)."""
    recomputed = recompute_metadata(masklet.rles, masklet.type, resolution)
    mismatches = []
    for item in fields(MaskletMetadata):
        stored, expected = getattr(masklet, item.name), getattr(recomputed, item.name)
        if not _same(stored, expected):
            mismatches.append(MetadataMismatch(item.name, stored, expected))
    return mismatches


def _same(stored: object, expected: object) -> bool:
    if isinstance(expected, float) and isinstance(stored, (int, float)):
        return math.isclose(stored, expected, rel_tol=FLOAT_REL_TOL)
    return stored == expected


def masklets_from_frame_rles(
    rles_by_object: dict[int, dict[int, dict]],
    num_annotated_frames: int,
    size: tuple[int, int],
    masklet_type: str = "manual",
) -> list[Masklet]:
    """Masklets from ``{object id: {video frame 4k: rle}}`` with metadata recomputed, sorted by id.

    A frame an object has no RLE for gets an empty mask. Masks made this way (val/test PNGs, converted
    predictions) have no edit history: manual masklets count every annotated frame as edited, auto ones none.
    They carry no stability score either: auto masklets get ``IMPORTED_STABILITY_SCORE`` on every annotated
    frame, so that their JSON has the frames x masklets score list of the released auto files.
    """
    height, width = size
    empty = rle.encode(np.zeros((height, width), dtype=bool))
    masklets = []
    for object_id, masks in sorted(rles_by_object.items()):
        rles = [masks.get(k * FRAMES_PER_ANNOTATION, empty) for k in range(num_annotated_frames)]
        metadata = recompute_metadata(rles, masklet_type, height * width)
        auto = masklet_type == "auto"
        masklets.append(
            Masklet(
                id=object_id,
                type=masklet_type,
                rles=rles,
                edited_frame_count=0 if auto else len(rles),
                stability_score=[IMPORTED_STABILITY_SCORE] * len(rles) if auto else None,
                **vars(metadata),
            )
        )
    return masklets
