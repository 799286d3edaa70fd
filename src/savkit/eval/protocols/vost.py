"""Protocol ``vost``: TRI-ML/VOST ``evaluation/`` (VOST: video object segmentation under transformations).

Rules, as that code computes them:

* DAVIS layout. The frames are the GT's PNGs, sorted, first and last dropped (``--do_not_skip_first_and_last_frame``
  keeps them). The objects are 1..N, N the largest id of the first GT frame once void is removed.
* Void (255) in the GT is background; no void mask reaches J (a prediction on void is a false positive).
  Predicted ids above N are ignored (the reference truncates them too), counted in a warning.
* Only J is scored: J (mean over the evaluated frames) and J_tr, the mean over the last 25% of them (from index
  floor(0.75 * T)), where transformations have happened. Global scores are means over all objects of all videos.
* The reference fails on numpy >= 1.24 (``np.bool``) and its decay bins overflow from 256 frames on (uint8):
  savkit gives the numbers it would give without those bugs.
"""

from __future__ import annotations

import math

import numpy as np

from savkit.eval.discover import EvalPlan, EvalTask
from savkit.eval.masks import id_mask
from savkit.eval.metrics import decay, nan_mean, nonzero_crop, recall, region_j
from savkit.eval.protocols.base import (
    ObjectFrames,
    Protocol,
    VideoScorer,
    largest_first_frame_id,
    require_davis_layout,
)


class VostScorer(VideoScorer):
    def __init__(self, task: EvalTask, object_ids: list[int]) -> None:
        super().__init__(task)
        self.object_ids = object_ids

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        # Void (255) is background: ``gt == id`` never selects it, so the GT needs no rewriting.
        crop = nonzero_crop(gt, pred)
        gt, pred = gt[crop], pred[crop]
        self.note_prediction(pred, len(self.object_ids))
        for object_id in self.object_ids:
            self.frames[object_id].append(frame)
            self.j[object_id].append(region_j(id_mask(pred, object_id), id_mask(gt, object_id)))

    def conclude(self) -> list[int]:
        return self.object_ids if self.frames else []


def last_quarter_start(frame_count: int) -> int:
    """Where J_tr's frames begin: int(floor(T * 0.75)), as the reference computes it."""
    return int(math.floor(frame_count * 0.75))


class VostProtocol(Protocol):
    name = "vost"
    table_columns = ("J", "J_tr")

    def plan(self, gt_root, pred_root) -> EvalPlan:
        return require_davis_layout(super().plan(gt_root, pred_root), self.name)

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        return VostScorer(task, list(range(1, largest_first_frame_id(first_gt) + 1)))

    def needs_first_gt(self, task: EvalTask) -> bool:
        return True

    def object_statistics(self, frames: ObjectFrames) -> dict[str, float]:
        j = np.asarray(frames.j, dtype=float)
        tail = j[last_quarter_start(len(j)) :]
        return {
            "J": nan_mean(j) * 100,
            "J_tr": nan_mean(tail) * 100,
            "J_recall": recall(j) * 100,
            "J_decay": decay(j) * 100,
        }

    def global_statistics(self, objects: list[tuple[ObjectFrames, dict[str, float]]]) -> dict[str, float]:
        names = ("J", "J_tr", "J_recall", "J_decay")
        return {name: float(np.mean([stats[name] for _, stats in objects])) for name in names}
