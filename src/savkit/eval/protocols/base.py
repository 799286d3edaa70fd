"""The shared shape of a protocol: a per-video scorer fed frame by frame, and the per-object results it yields."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from savkit.eval.discover import SAV_LAYOUT, EvalTask
from savkit.eval.masks import id_mask
from savkit.eval.metrics import score_frame, tolerance_disk


@dataclass
class ObjectFrames:
    """Per-frame scores (0..1) of one reported object."""

    video: str
    object: str
    label: int | None
    frames: list[str]
    j: list[float]
    f: list[float]


@dataclass
class TaskScores:
    """What a worker sends back for one task: the reported objects and the facts behind the sanity warnings."""

    objects: list[ObjectFrames]
    prediction_empty: bool
    prediction_equals_gt: bool
    foreign_pixels: int = 0
    warnings: list[str] = field(default_factory=list)


class VideoScorer(ABC):
    """Accumulates per-frame J and F of one task (an object folder or a DAVIS-layout video)."""

    def __init__(self, task: EvalTask) -> None:
        self.task = task
        self.frames: dict[int, list[str]] = defaultdict(list)
        self.j: dict[int, list[float]] = defaultdict(list)
        self.f: dict[int, list[float]] = defaultdict(list)
        self.prediction_empty = True
        self.foreign_pixels = 0
        self.warnings: list[str] = []

    @abstractmethod
    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        """Score one frame (bool masks in the SA-V layout, label images in the DAVIS layout)."""

    @abstractmethod
    def conclude(self) -> list[int]:
        """Settle the results once every frame is fed (rules for unusual objects, foreign pixels); the ids to report."""

    def score(self, object_id: int, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        j, f = score_frame(id_mask(pred, object_id), id_mask(gt, object_id), tolerance_disk(*gt.shape))
        self.frames[object_id].append(frame)
        self.j[object_id].append(j)
        self.f[object_id].append(f)

    def finish(self) -> TaskScores:
        objects = [self._object_frames(object_id) for object_id in self.conclude()]
        every_j = [j for values in self.j.values() for j in values]
        equals_gt = self.foreign_pixels == 0 and all(j == 1.0 for j in every_j)
        return TaskScores(objects, self.prediction_empty, equals_gt, self.foreign_pixels, self.warnings)

    def _object_frames(self, object_id: int) -> ObjectFrames:
        task = self.task
        if task.layout == SAV_LAYOUT:
            key, label = task.object or "", None
        else:
            key, label = str(object_id), object_id
        return ObjectFrames(
            task.video, key, label, self.frames[object_id], self.j[object_id], self.f[object_id]
        )

    @property
    def where(self) -> str:
        return f"{self.task.video}/{self.task.object}" if self.task.object else self.task.video


class Protocol(ABC):
    """A named set of scoring rules."""

    name: str
    #: Statistics (keys of an object's stats, beyond J&F, J and F) the console table shows as extra columns.
    console_statistics: tuple[str, ...] = ()

    @abstractmethod
    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        """A fresh scorer for ``task``; ``first_gt`` is the GT of the task's first annotated frame (DAVIS layout)."""

    def needs_first_gt(self, task: EvalTask) -> bool:
        """Whether :meth:`scorer` needs the first GT frame (read by the caller)."""
        return False
