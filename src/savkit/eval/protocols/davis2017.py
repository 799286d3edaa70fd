"""Protocol ``davis2017``: davisvideochallenge/davis2017-evaluation, semi-supervised.

Every evaluated frame counts for every object: the ids 1..N where N is the largest id of the GT's first frame
(DAVIS layout; void 255 aside) or the object of the folder (SA-V layout). Void pixels (255 in the GT) are background,
as in the reference's semi-supervised task: it sets them to 0 in the GT and passes no void mask to J and F, so a
predicted pixel on void is a false positive. Predicted ids above N are ignored (the reference exits on them) and
counted for a warning.
"""

from __future__ import annotations

import numpy as np

from savkit.eval.discover import SAV_LAYOUT, EvalTask
from savkit.eval.protocols.base import Protocol, VideoScorer, largest_first_frame_id


class Davis2017Scorer(VideoScorer):
    def __init__(self, task: EvalTask, object_ids: list[int]) -> None:
        super().__init__(task)
        self.object_ids = object_ids

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        self.note_prediction(pred, len(self.object_ids))  # the ids are 1..N
        for object_id in self.object_ids:
            self.score(object_id, frame, gt, pred)

    def conclude(self) -> list[int]:
        return self.object_ids if self.frames else []


class Davis2017Protocol(Protocol):
    name = "davis2017"
    console_statistics = ("J_recall", "J_decay", "F_recall", "F_decay")

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        if task.layout == SAV_LAYOUT:
            return Davis2017Scorer(task, [1])
        return Davis2017Scorer(task, list(range(1, largest_first_frame_id(first_gt) + 1)))

    def needs_first_gt(self, task: EvalTask) -> bool:
        return task.layout != SAV_LAYOUT
