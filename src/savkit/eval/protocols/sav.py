"""Protocol ``sav``: the official SA-V evaluator (sam2 ``sav_dataset``), itself vos-benchmark's ``Evaluator``.

An id is scored from the first evaluated frame in which it appears in the GT or in the prediction (earlier frames are
not scored for it at all), and reported only if it ever appears in the GT.

Where the official crashes — an SA-V-layout object whose GT is empty in every evaluated frame — savkit reports the
object with a warning: scored from the first frame where the prediction is non-empty (J = F = 0 there), or, if the
prediction is empty throughout too, J = F = 1 on every evaluated frame (nothing to find, nothing predicted).
"""

from __future__ import annotations

import numpy as np

from savkit.eval.discover import SAV_LAYOUT, EvalTask
from savkit.eval.masks import pixels_per_id, present_ids
from savkit.eval.protocols.base import Protocol, VideoScorer


class SavScorer(VideoScorer):
    def __init__(self, task: EvalTask) -> None:
        super().__init__(task)
        self.seen_gt: set[int] = set()
        self.pred_pixels: dict[int, int] = {}  # every id seen in the prediction so far, with its pixel count
        self.evaluated: list[str] = []

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        self.evaluated.append(frame)
        self.seen_gt.update(present_ids(gt))
        for object_id, count in pixels_per_id(pred).items():
            self.pred_pixels[object_id] = self.pred_pixels.get(object_id, 0) + count
            self.prediction_empty = False
        for object_id in sorted(self.seen_gt.union(self.pred_pixels)):
            self.score(object_id, frame, gt, pred)

    def conclude(self) -> list[int]:
        if self.task.layout == SAV_LAYOUT and not self.seen_gt and self.evaluated:
            return [self._score_empty_gt_object()]
        self.foreign_pixels = sum(n for i, n in self.pred_pixels.items() if i not in self.seen_gt)
        return sorted(self.seen_gt)

    def _score_empty_gt_object(self) -> int:
        if self.prediction_empty:
            n = len(self.evaluated)
            self.frames[1], self.j[1], self.f[1] = list(self.evaluated), [1.0] * n, [1.0] * n
            rule = "nothing predicted either: J = F = 100"
        else:
            rule = "scored from the first frame with a predicted mask"
        self.warnings.append(
            f"{self.where}: the GT is empty in every evaluated frame (the official evaluator crashes here); {rule}"
        )
        return 1


class SavProtocol(Protocol):
    name = "sav"

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        return SavScorer(task)
