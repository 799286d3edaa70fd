"""A results.json turned into the report's parts: the global table, the plots, the worst objects (with their
per-frame curves and, when the mask roots are given, GT and prediction thumbnails at their worst frames)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from savkit.annotations.metadata import size_bucket
from savkit.eval.results_file import headline, read_results, worst_frames
from savkit.report import figures
from savkit.report.thumbnails import side_by_side

WORST_FRAMES_SHOWN = 3
SIZE_BUCKETS = ("small", "medium", "large")
FRAME_BUCKETS = ((1, 9), (10, 29), (30, 99), (100, None))


@dataclass
class WorstObject:
    obj: dict
    curves: object  # a matplotlib Figure
    thumbnails: list[tuple[str, bytes]] = field(default_factory=list)  # (frame, PNG)


@dataclass
class ResultsReport:
    path: Path
    data: dict
    label: str  # "J&F", or "J" for J-only protocols
    figures: dict[str, object]  # section id -> Figure
    notes: dict[str, str]  # section id -> why it has no figure
    worst: list[WorstObject]

    @property
    def title(self) -> str:
        return f"savkit report: {self.path}"


def build_report(
    results_path: str | Path,
    gt_root: str | Path | None = None,
    pred_root: str | Path | None = None,
    worst: int = 5,
) -> ResultsReport:
    path = Path(results_path)
    data = read_results(path)
    objects = data["objects"]
    label = "J&F" if all(o.get("J&F") is not None for o in objects) else "J"
    scores = [headline(o) for o in objects]
    plots: dict[str, object] = {
        "distribution": figures.histogram(scores, label, f"{label} of {len(objects)} objects")
    }
    notes: dict[str, str] = {}
    sizes = size_groups(objects)
    if sizes is None:
        notes["by-size"] = "object sizes are not in this results file (re-run savkit eval to record GT areas)"
    else:
        plots["by-size"] = figures.bucket_bars(
            sizes, label, f"{label} by object size", "mean visible GT area"
        )
    plots["by-frames"] = figures.bucket_bars(
        frame_groups(objects), label, f"{label} by evaluated frames", "frames"
    )
    roots = (Path(gt_root), Path(pred_root)) if gt_root is not None and pred_root is not None else None
    return ResultsReport(
        path, data, label, plots, notes, [worst_object(o, roots) for o in worst_objects(objects, worst)]
    )


def worst_objects(objects: list[dict], count: int) -> list[dict]:
    return sorted(objects, key=headline)[:count]


def worst_object(obj: dict, roots: tuple[Path, Path] | None) -> WorstObject:
    f_frames = obj.get("F_frames") or None
    title = f"{obj['video']} / {obj['object']}: per-frame J" + (" and F" if f_frames else "")
    item = WorstObject(obj, figures.frame_curves(obj["frames"], obj["J_frames"], f_frames, title))
    if roots is not None:
        for frame in worst_frames(obj, WORST_FRAMES_SHOWN):
            image = side_by_side(roots[0], roots[1], obj, frame)
            if image is not None:
                item.thumbnails.append((frame, image))
    return item


def size_groups(objects: list[dict]) -> dict[str, list[float]] | None:
    """Scores by the SA-V size bucket of each object's mean visible GT area, or None when areas are unknown."""
    if not all("GT_area_frames" in o for o in objects):
        return None
    groups: dict[str, list[float]] = {name: [] for name in SIZE_BUCKETS}
    for obj in objects:
        areas = np.asarray(obj["GT_area_frames"], float)
        visible = areas[areas > 0]
        groups[size_bucket(float(visible.mean()) if visible.size else 0.0)].append(headline(obj))
    return groups


def frame_groups(objects: list[dict]) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = {}
    for low, high in FRAME_BUCKETS:
        name = f"{low}-{high}" if high else f"{low}+"
        groups[name] = [
            headline(o)
            for o in objects
            if len(o["frames"]) >= low and (high is None or len(o["frames"]) <= high)
        ]
    return groups
