"""Per-object statistics, global scores, sanity warnings, and the official ``results.csv`` / console formats."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import EvalPlan
from savkit.eval.protocols.base import DAVIS_STATISTICS, ObjectFrames, Protocol, TaskScores
from savkit.io.atomic import write_texts_atomic

STATISTICS = DAVIS_STATISTICS


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
        series = {f"{name}_frames": values for name, values in self.frames.extra.items()}
        return {
            "video": self.video,
            "object": self.object,
            **self.stats,
            "frames": [name.removesuffix(".png") for name in self.frames.frames],
            "J_frames": self.frames.j,
            "F_frames": self.frames.f,
            **series,
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
    columns: tuple[str, ...] = ("J&F", "J", "F")
    console_statistics: tuple[str, ...] = ()

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
        """``results.csv`` exactly as the official evaluator writes it (with the protocol's columns)."""
        width = max(*(len(video) for video in self.videos), len("Global score"))
        g = self.global_scores
        lines = [
            f"{'sequence':<{width}},{'obj':>3}, " + ", ".join(f"{name:>4}" for name in self.columns),
            f"{'Global score':<{width}},{'':>3}, " + ", ".join(_one_decimal(g.get(n)) for n in self.columns),
        ]
        for obj in self.objects:
            key = obj.frames.label if obj.frames.label is not None else obj.object
            values = ", ".join(f"{_one_decimal(obj.stats.get(name)):>4}" for name in self.columns)
            lines.append(f"{obj.video:<{width}},{key:03}, {values}")
        return "\n".join(lines) + "\n"

    def write(self, csv_path: str | os.PathLike, json_path: str | os.PathLike) -> None:
        """Write ``results.csv`` and ``results.json`` together: both, or neither (the old ones left untouched)."""
        write_texts_atomic({csv_path: self.csv_text(), json_path: self.json_text()})

    def console_text(self) -> str:
        """The official console output: the table without commas, then the summary; a protocol's further
        statistics (davis2017: recall and decay) as extra columns and one more summary line."""
        g = self.global_scores
        names = self.console_statistics
        header, *body = self.csv_text().replace(",", " ").splitlines()
        rows = [g, *(obj.stats for obj in self.objects)]
        lines = [header + _statistics_cells(names, None)]
        lines += [line + _statistics_cells(names, stats) for line, stats in zip(body, rows, strict=True)]
        summary = " ".join(f"{name}: {_one_decimal(g.get(name))}" for name in self.columns)
        extra = " ".join(f"{_label(name)}: {_one_decimal(g.get(name))}" for name in names)
        return (
            "\n".join(lines)
            + "\n\nSummary:\n"
            + f"Global score: {summary}\n"
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
        f"{_label(name) if stats is None else _one_decimal(stats.get(name)):>{len(_label(name))}}"
        for name in names
    )
    return "".join(f"  {cell}" for cell in cells)


def _one_decimal(value: float | None) -> str:
    return "-" if value is None or np.isnan(value) else f"{value:.1f}"


def build_report(
    plan: EvalPlan, task_scores: list[TaskScores], protocol: Protocol, start: float
) -> EvalReport:
    objects = [
        ObjectResult(frames, protocol.object_statistics(frames))
        for scores in task_scores
        for frames in scores.objects
    ]
    if not objects:
        raise SavkitError(
            f"no object could be scored in {plan.gt_root}: every evaluated GT frame is empty or no frame is left "
            "after skipping the first and last (try --do_not_skip_first_and_last_frame)"
        )
    pairs = [(obj.frames, obj.stats) for obj in objects]
    warnings = plan.warnings + _sanity_warnings(plan, task_scores) + protocol.global_warnings(pairs)
    report = EvalReport(
        protocol.name,
        protocol.skips_first_and_last,
        plan.videos,
        objects,
        protocol.global_statistics(pairs),
        warnings,
        columns=protocol.table_columns,
        console_statistics=protocol.console_statistics,
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
