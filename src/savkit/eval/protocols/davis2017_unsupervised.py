"""Protocol ``davis2017-unsupervised``: davisvideochallenge/davis2017-evaluation, task ``unsupervised``.

Rules, as that code computes them:

* DAVIS layout (``Annotations_unsupervised``). Every frame is scored: no first/last skip.
* GT objects are 1..N, N the largest id of the first GT frame once void (255) is removed; void pixels are passed
  to J and F as a void mask: they are removed from both masks before J's counts and before the boundary maps.
* The prediction holds proposals 1..P, P its largest value over the video's frames; more than 20 is refused (the
  reference exits). With P < N the missing proposals are empty.
* Every proposal is scored against every GT object on every frame; proposal p is matched to object i by the
  Hungarian algorithm (scipy's ``linear_sum_assignment``) on the mean over frames of (J + F) / 2, maximised.
* The reference labels its matched pairs in proposal order (``{video}_{k}`` for the k-th pair); savkit reports each
  result under the GT object it was matched to, so the global numbers are the same and the per-object ones are
  where they belong.
* Statistics: the ``davis2017`` ones (Mean, Recall, Decay without the reference's uint8 overflow).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import EvalPlan, EvalTask
from savkit.eval.masks import id_mask
from savkit.eval.metrics import nonzero_crop, occupied_box, score_frame, tolerance_disk
from savkit.eval.protocols.base import (
    VOID,
    Protocol,
    TaskScores,
    VideoScorer,
    largest_first_frame_id,
    require_davis_layout,
)

MAX_PROPOSALS = 20


class UnsupervisedScorer(VideoScorer):
    """Scores every proposal against every GT object, then keeps the Hungarian pairs."""

    def __init__(self, task: EvalTask, object_count: int) -> None:
        super().__init__(task)
        self.object_ids = list(range(1, object_count + 1))
        self.names: list[str] = []
        self.empty_scores: list[list[tuple[float, float]]] = []  # per frame, per object: an empty proposal's
        self.proposal_scores: dict[int, dict[int, tuple[float, float]]] = defaultdict(
            dict
        )  # p -> frame -> ...
        self.largest_proposal = 0

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        frame_index = len(self.names)
        self.names.append(frame)
        disk = tolerance_disk(*gt.shape)
        crop = nonzero_crop(gt, pred)
        gt, pred = gt[crop], pred[crop]
        keep = gt != VOID
        gt_masks = [id_mask(gt, i) & keep for i in self.object_ids]
        empty = np.zeros(gt.shape, dtype=bool)
        self.empty_scores.append([score_frame(empty, g, disk) for g in gt_masks])
        top = int(pred.max())
        if top:
            self.prediction_empty = False
            self.largest_proposal = max(self.largest_proposal, top)
        if self.largest_proposal > MAX_PROPOSALS:
            raise SavkitError(
                f"{self.task.pred_dir / frame} holds proposal id {self.largest_proposal}: the unsupervised task "
                f"allows at most {MAX_PROPOSALS} proposals per video (ids 1..{MAX_PROPOSALS}, 0 = background)"
            )
        margin = disk.shape[0] // 2 + 2
        gt_boxes = [occupied_box(g) for g in gt_masks]
        for proposal in range(1, top + 1):
            mask = id_mask(pred, proposal) & keep
            box = occupied_box(mask)
            if box is None:
                continue  # absent (or on void only): scored as the empty proposal, from empty_scores
            self.proposal_scores[proposal][frame_index] = [
                score_frame(mask, g, disk) if _near(box, g_box, margin) else (0.0, 0.0)
                for g, g_box in zip(gt_masks, gt_boxes, strict=True)
            ]

    def _series(self, proposal: int, object_index: int) -> tuple[list[float], list[float]]:
        scored = self.proposal_scores.get(proposal, {})
        pairs = [
            scored[k][object_index] if k in scored else self.empty_scores[k][object_index]
            for k in range(len(self.names))
        ]
        return [j for j, _ in pairs], [f for _, f in pairs]

    def conclude(self) -> list[int]:
        if not self.names or not self.object_ids:
            return []
        proposals = list(range(1, max(self.largest_proposal, len(self.object_ids)) + 1))
        series = {(p, i): self._series(p, i) for p in proposals for i in range(len(self.object_ids))}
        means = np.array(
            [
                [
                    (np.mean(series[p, i][0]) + np.mean(series[p, i][1])) / 2
                    for i in range(len(self.object_ids))
                ]
                for p in proposals
            ]
        )
        from scipy.optimize import linear_sum_assignment  # only this protocol needs scipy

        rows, cols = linear_sum_assignment(-means)
        for row, col in zip(rows, cols, strict=True):
            object_id = self.object_ids[col]
            j, f = series[proposals[row], col]
            self.frames[object_id], self.j[object_id], self.f[object_id] = list(self.names), j, f
        return sorted(self.object_ids[col] for col in cols)

    def finish(self) -> TaskScores:
        scores = super().finish()
        scores.prediction_equals_gt = False  # matched proposals, not ids: "equals GT" says nothing here
        return scores


def _near(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None, margin: int) -> bool:
    """False only when both masks are non-empty and too far apart for any overlap or boundary match: then J = 0
    and F = 0, exactly what :func:`score_frame` would return. An empty side is scored as it is."""
    if a is None or b is None:
        return True
    return a[0] - margin < b[1] and b[0] - margin < a[1] and a[2] - margin < b[3] and b[2] - margin < a[3]


class Davis2017UnsupervisedProtocol(Protocol):
    name = "davis2017-unsupervised"
    console_statistics = ("J_recall", "J_decay", "F_recall", "F_decay")

    @property
    def skips_first_and_last(self) -> bool:
        return False  # the unsupervised task scores every frame

    def plan(self, gt_root, pred_root) -> EvalPlan:
        return require_davis_layout(super().plan(gt_root, pred_root), self.name)

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        return UnsupervisedScorer(task, largest_first_frame_id(first_gt))

    def needs_first_gt(self, task: EvalTask) -> bool:
        return True
