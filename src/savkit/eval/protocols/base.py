"""The shared shape of a protocol: a per-video scorer fed frame by frame, and the per-object results it yields."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field

import cv2
import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import SAV_LAYOUT, EvalPlan, EvalTask, plan_evaluation
from savkit.eval.masks import id_mask
from savkit.eval.metrics import decay, frame_parts, recall, tolerance_disk
from savkit.eval.options import EvalOptions

VOID = 255

#: The davis2017 statistics of one object, in percent: the names of ``results.json``.
DAVIS_STATISTICS = ("J&F", "J", "F", "J_recall", "J_decay", "F_recall", "F_decay")


@dataclass
class ObjectFrames:
    """Per-frame scores (0..1) of one reported object."""

    video: str
    object: str
    label: int | None
    frames: list[str]
    j: list[float]
    f: list[float]
    extra: dict[str, list[float]] = field(default_factory=dict)  # a protocol's other per-frame series


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
        self.gt_area: dict[int, list[int]] = defaultdict(list)  # GT pixels per scored frame (for reports)
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
        parts = frame_parts(id_mask(pred, object_id), id_mask(gt, object_id))
        j, f = parts.j_and_f(tolerance_disk(*gt.shape))
        self.frames[object_id].append(frame)
        self.j[object_id].append(j)
        self.f[object_id].append(f)
        self.gt_area[object_id].append(parts.gt_area)

    def note_prediction(self, pred: np.ndarray, largest_id: int) -> None:
        """Record whether a frame's prediction holds anything, and its pixels of ids above ``largest_id`` (the
        ids scored are 1..largest_id; the others are ignored, counted for a warning)."""
        top = int(pred.max())
        if top:
            self.prediction_empty = False
        if top > largest_id:
            self.foreign_pixels += int(np.count_nonzero(pred > largest_id))

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
        areas = self.gt_area.get(object_id, [])
        extra = {"GT_area": areas} if len(areas) == len(self.frames[object_id]) else {}
        return ObjectFrames(
            task.video, key, label, self.frames[object_id], self.j[object_id], self.f[object_id], extra
        )

    @property
    def where(self) -> str:
        return f"{self.task.video}/{self.task.object}" if self.task.object else self.task.video


def require_davis_layout(plan: EvalPlan, protocol: str) -> EvalPlan:
    """The protocols of DAVIS-style benchmarks read indexed PNGs (one per frame, pixel value = object id)."""
    for task in plan.tasks:
        if task.layout == SAV_LAYOUT:
            raise SavkitError(
                f"--protocol {protocol} reads one indexed PNG per frame (DAVIS layout), but {task.gt_dir} is an "
                "SA-V object folder: use --protocol sav or davis2017 for per-object folders"
            )
    return plan


def largest_first_frame_id(first_gt: np.ndarray | None) -> int:
    """N of the DAVIS-style references: the largest object id of the first GT frame, void aside."""
    if first_gt is None or first_gt.dtype == bool:
        return 1
    if first_gt.dtype == np.uint8:  # void (255) to 0, then the largest: 40x faster than a masked max
        _, without_void = cv2.threshold(first_gt, VOID - 1, 0, cv2.THRESH_TOZERO_INV)
        return int(without_void.max())
    return int(first_gt.max(where=first_gt != VOID, initial=0))


class Protocol(ABC):
    """A named set of scoring rules: which frames and objects (:meth:`plan`), how a frame is scored
    (:meth:`scorer`), and how per-frame scores become per-object and global statistics."""

    name: str
    #: Statistics (keys of an object's stats, beyond J&F, J and F) the console table shows as extra columns.
    console_statistics: tuple[str, ...] = ()
    #: the global statistics shown in the console table and ``results.csv`` (one decimal each)
    table_columns: tuple[str, ...] = ("J&F", "J", "F")

    def __init__(self, options: EvalOptions | None = None) -> None:
        self.options = options or EvalOptions(protocol=self.name)

    def plan(self, gt_root: str | os.PathLike, pred_root: str | os.PathLike) -> EvalPlan:
        """The tasks of an evaluation: by default the official SA-V evaluator's folder rules."""
        return plan_evaluation(
            gt_root, pred_root, strict=self.options.strict, skip_first_and_last=self.skips_first_and_last
        )

    @property
    def skips_first_and_last(self) -> bool:
        """Whether the first and last frames are left out (``--do_not_skip_first_and_last_frame`` keeps them)."""
        return self.options.skip_first_and_last

    @abstractmethod
    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        """A fresh scorer for ``task``; ``first_gt`` is the GT of the task's first annotated frame (DAVIS layout)."""

    def needs_first_gt(self, task: EvalTask) -> bool:
        """Whether :meth:`scorer` needs the first GT frame (read by the caller)."""
        return False

    def object_statistics(self, frames: ObjectFrames) -> dict[str, float]:
        """Mean (the official J and F), recall and decay of one object, in percent."""
        j, f = np.asarray(frames.j, dtype=float), np.asarray(frames.f, dtype=float)
        j_mean, f_mean = np.mean(frames.j) * 100, np.mean(frames.f) * 100
        return {
            "J&F": (j_mean + f_mean) / 2,
            "J": j_mean,
            "F": f_mean,
            "J_recall": recall(j) * 100,
            "J_decay": decay(j) * 100,
            "F_recall": recall(f) * 100,
            "F_decay": decay(f) * 100,
        }

    def global_statistics(self, objects: list[tuple[ObjectFrames, dict[str, float]]]) -> dict[str, float]:
        """Means over all objects of all videos (not means of video means), J&F from the global J and F."""
        scores = {
            name: float(np.array([stats[name] for _, stats in objects]).mean())
            for name in DAVIS_STATISTICS[1:]
        }
        return {"J&F": (scores["J"] + scores["F"]) / 2, **scores}

    def global_warnings(self, objects: list[tuple[ObjectFrames, dict[str, float]]]) -> list[str]:
        """Warnings about the statistics themselves (e.g. a group with no object)."""
        return []
