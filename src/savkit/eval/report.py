"""Per-object statistics, global scores, sanity warnings, and the official ``results.csv`` / console formats."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import EvalPlan
from savkit.eval.metrics import decay, recall
from savkit.eval.protocols import get_protocol
from savkit.eval.protocols.base import ObjectFrames, TaskScores
from savkit.io.atomic import write_texts_atomic

STATISTICS = ("J&F", "J", "F", "J_recall", "J_decay", "F_recall", "F_decay")


@dataclass
class ObjectResult:
    """One reported object: its per-frame scores (0..1) and its statistics (percent)."""

    frames: ObjectFrames
    stats: dict[str, float]

    @property
    def video(self) -> str:
        return self.frames.video

    @property
    def object(self) -> str:
        return self.frames.object

    def to_json(self) -> dict:
        return {
            "video": self.video,
            "object": self.object,
            **self.stats,
            "frames": [name.removesuffix(".png") for name in self.frames.frames],
            "J_frames": self.frames.j,
            "F_frames": self.frames.f,
        }


@dataclass
class EvalReport:
    protocol: str
    skip_first_and_last: bool
    videos: list[str]
    objects: list[ObjectResult]
    global_scores: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "protocol": self.protocol,
            "skip_first_and_last": self.skip_first_and_last,
            "global": self.global_scores,
            "objects": [obj.to_json() for obj in self.objects],
            "warnings": self.warnings,
            "seconds": self.seconds,
        }

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=1) + "\n"

    def csv_text(self) -> str:
        """``results.csv`` exactly as the official evaluator writes it."""
        width = max(*(len(video) for video in self.videos), len("Global score"))
        g = self.global_scores
        lines = [
            f"{'sequence':<{width}},{'obj':>3}, {'J&F':>4}, {'J':>4}, {'F':>4}",
            f"{'Global score':<{width}},{'':>3}, {g['J&F']:.1f}, {g['J']:.1f}, {g['F']:.1f}",
        ]
        for obj in self.objects:
            key = obj.frames.label if obj.frames.label is not None else obj.object
            s = obj.stats
            lines.append(f"{obj.video:<{width}},{key:03}, {s['J&F']:>4.1f}, {s['J']:>4.1f}, {s['F']:>4.1f}")
        return "\n".join(lines) + "\n"

    def write(self, csv_path: str | os.PathLike, json_path: str | os.PathLike) -> None:
        """Write ``results.csv`` and ``results.json`` together: both, or neither (the old ones left untouched)."""
        write_texts_atomic({csv_path: self.csv_text(), json_path: self.json_text()})

    def console_text(self) -> str:
        """The official console output: the table without commas, then the summary; a protocol's further
        statistics (davis2017: recall and decay) as extra columns and one more summary line."""
        g = self.global_scores
        names = get_protocol(self.protocol).console_statistics
        header, *body = self.csv_text().replace(",", " ").splitlines()
        rows = [g, *(obj.stats for obj in self.objects)]
        lines = [header + _statistics_cells(names, None)]
        lines += [line + _statistics_cells(names, stats) for line, stats in zip(body, rows, strict=True)]
        extra = " ".join(f"{_label(name)}: {g[name]:.1f}" for name in names)
        return (
            "\n".join(lines)
            + "\n\nSummary:\n"
            + f"Global score: J&F: {g['J&F']:.1f} J: {g['J']:.1f} F: {g['F']:.1f}\n"
            + (f"Recall and decay: {extra}\n" if extra else "")
            + f"Time taken: {self.seconds:.2f}s\n"
        )


def _label(name: str) -> str:
    """A statistic's name as davis2017-evaluation prints it: J_recall -> J-Recall."""
    measure, kind = name.split("_")
    return f"{measure}-{kind.capitalize()}"


def _statistics_cells(names: tuple[str, ...], stats: dict[str, float] | None) -> str:
    """The extra columns of one console row: the labels (header, ``stats`` None) or the values."""
    cells = (
        f"{_label(name) if stats is None else format(stats[name], '.1f'):>{len(_label(name))}}"
        for name in names
    )
    return "".join(f"  {cell}" for cell in cells)


def object_statistics(frames: ObjectFrames) -> dict[str, float]:
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


def global_statistics(objects: list[ObjectResult]) -> dict[str, float]:
    """Means over all objects of all videos (not means of video means), J&F from the global J and F."""
    scores = {name: float(np.array([obj.stats[name] for obj in objects]).mean()) for name in STATISTICS[1:]}
    return {"J&F": (scores["J"] + scores["F"]) / 2, **scores}


def build_report(
    plan: EvalPlan, task_scores: list[TaskScores], protocol: str, skip_first_and_last: bool, start: float
) -> EvalReport:
    objects = [
        ObjectResult(frames, object_statistics(frames)) for scores in task_scores for frames in scores.objects
    ]
    if not objects:
        raise SavkitError(
            f"no object could be scored in {plan.gt_root}: every evaluated GT frame is empty or no frame is left "
            "after skipping the first and last (try --do_not_skip_first_and_last_frame)"
        )
    warnings = plan.warnings + _sanity_warnings(plan, task_scores)
    report = EvalReport(
        protocol, skip_first_and_last, plan.videos, objects, global_statistics(objects), warnings
    )
    report.seconds = time.perf_counter() - start
    return report


def _sanity_warnings(plan: EvalPlan, task_scores: list[TaskScores]) -> list[str]:
    warnings = [message for scores in task_scores for message in scores.warnings]
    if all(scores.prediction_equals_gt for scores in task_scores):
        warnings.append("every prediction equals its GT: is --pred_root a copy of the GT?")
    empty_videos = _videos_with_empty_predictions(plan, task_scores)
    if len(empty_videos) == len(plan.videos):
        warnings.append("every prediction of every video is empty: is --pred_root the right folder?")
    elif empty_videos:
        warnings.append(f"every prediction is empty in {len(empty_videos)} videos (e.g. {empty_videos[0]})")
    foreign = sum(scores.foreign_pixels for scores in task_scores)
    if foreign:
        warnings.append(f"predictions use object ids the GT never has: ignored ({foreign} pixels)")
    return warnings


def _videos_with_empty_predictions(plan: EvalPlan, task_scores: list[TaskScores]) -> list[str]:
    """Videos all of whose tasks (objects) have nothing predicted, in plan order."""
    empty: dict[str, bool] = {}
    for task, scores in zip(plan.tasks, task_scores, strict=True):
        empty[task.video] = empty.get(task.video, True) and scores.prediction_empty
    return [video for video, is_empty in empty.items() if is_empty]
