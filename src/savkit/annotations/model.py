"""The typed model of one video's SA-V annotations, shared by every reader and writer in savkit.

Masks stay as COCO RLEs until asked for: ``Masklet.mask(k)`` decodes one (annotated frame, masklet) pair,
so a video's annotations cost a few hundred KB however long the video is. Annotated frame ``k`` is video
frame ``4 * k`` (SA-V videos are 24 fps, annotated at 6 fps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from savkit.annotations import rle
from savkit.errors import SavkitError

MASKLET_TYPES = ("manual", "auto")
FRAMES_PER_ANNOTATION = 4


def annotated_frame_count(video_frames: int) -> int:
    """Annotated frames of a video of ``video_frames`` frames: 0, 4, 8... so ceil(video_frames / 4)."""
    return math.ceil(video_frames / FRAMES_PER_ANNOTATION)


def check_masklet_type(type: str | None, *, required: bool = False) -> None:
    """A masklet type is one of MASKLET_TYPES, or None (every type) unless ``required``; else a SavkitError."""
    if type not in MASKLET_TYPES and (required or type is not None):
        raise SavkitError(f"unknown masklet type {type!r}: use one of {', '.join(MASKLET_TYPES)}")


@dataclass(repr=False)
class Masklet:
    """One object tracked through the video: an RLE per annotated frame plus the metadata stored with it.

    Its ``repr`` is a one-line summary: the RLE strings run to tens of kB per masklet.
    """

    id: int
    type: str
    rles: list[dict]
    size_rel: float
    size_abs: float
    size_bucket: str
    visibility_changes: int
    first_appeared_frame: int
    frame_count: int
    edited_frame_count: int
    stability_score: list[float] | None = None

    def __len__(self) -> int:
        return len(self.rles)

    def mask(self, k: int) -> np.ndarray:
        """Boolean (H, W) mask on annotated frame ``k`` (video frame 4k), decoded now."""
        if not 0 <= k < len(self.rles):
            raise SavkitError(
                f"annotated frame {k} is out of range for {self.type} masklet {self.id} "
                f"(it has {len(self.rles)} annotated frames: 0..{len(self.rles) - 1})"
            )
        return rle.decode(self.rles[k])

    def areas(self) -> np.ndarray:
        """Pixel count per annotated frame (int64), read from the RLEs without decoding."""
        return rle.area(self.rles)

    def bboxes(self) -> np.ndarray:
        """Bounding box (x, y, w, h) per annotated frame, float64 (N, 4); zeros where the object is absent."""
        return rle.bbox(self.rles)

    def __repr__(self) -> str:
        return (
            f"Masklet(id={self.id}, type={self.type!r}, annotated_frames={len(self.rles)}, "
            f"size_bucket={self.size_bucket!r}, size_abs={self.size_abs:.1f}, "
            f"first_appeared_frame={self.first_appeared_frame}, visibility_changes={self.visibility_changes})"
        )


@dataclass(repr=False)
class VideoAnnotations:
    """A video's metadata and its masklets, manual and auto together; its ``repr`` is a one-line summary."""

    video_id: str
    split: str
    duration: float
    frame_count: int
    height: int
    width: int
    environment: str | None
    masklets: list[Masklet] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"VideoAnnotations(video_id={self.video_id!r}, split={self.split!r}, "
            f"height={self.height}, width={self.width}, frame_count={self.frame_count}, duration={self.duration:g}, "
            f"environment={self.environment!r}, masklets: {len(self.manual)} manual, {len(self.auto)} auto)"
        )

    @property
    def manual(self) -> list[Masklet]:
        return [m for m in self.masklets if m.type == "manual"]

    @property
    def auto(self) -> list[Masklet]:
        return [m for m in self.masklets if m.type == "auto"]

    @property
    def num_annotated_frames(self) -> int:
        """Annotated frames per masklet; ceil(frame_count / 4) for a video without masklets."""
        if self.masklets:
            return max(len(m) for m in self.masklets)
        return annotated_frame_count(self.frame_count)

    def masks(
        self, k: int, type: str | None = None, ids: list[int] | None = None
    ) -> dict[tuple[str, int], np.ndarray]:
        """Decoded masks on annotated frame ``k`` keyed by (type, id), optionally only one type and some ids."""
        check_masklet_type(type)
        selected = [
            m for m in self.masklets if (type is None or m.type == type) and (ids is None or m.id in ids)
        ]
        return {(m.type, m.id): m.mask(k) for m in selected}
