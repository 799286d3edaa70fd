"""Evaluation runs for ``savkit serve``: ``results.json`` files as ``savkit eval`` writes them, and their masks.

A run is named after its file (``results.json`` takes its folder's name). The predicted masks are looked up
where ``savkit eval`` writes results by default: beside the file, in the prediction root, in the SA-V layout
(``{video}/{object}/{frame}.png``) or the DAVIS layout (``{video}/{frame}.png``, object = label). Paths are built
only from names in the results file, checked here; a URL only ever carries indices into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from savkit.eval import results_file

OBJECT_FIELDS = ("video", "object", "J&F", "J", "F", "frames", "J_frames", "F_frames")
WORST_FRAMES = 3
_NAME_PART = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Run:
    """One results file: its name in URLs, where it is, and its content."""

    name: str
    path: Path
    data: dict

    @property
    def objects(self) -> list[dict]:
        return self.data["objects"]

    def video_scores(self) -> dict[str, float]:
        """Each video's J&F: the mean over its objects, as the global score is a mean over objects."""
        per_video: dict[str, list[float]] = {}
        for obj in self.objects:
            per_video.setdefault(obj["video"], []).append(obj["J&F"])
        return {video: float(np.mean(scores)) for video, scores in per_video.items()}

    def summary(self) -> dict:
        return {
            "run": self.name,
            "path": str(self.path),
            "protocol": self.data.get("protocol"),
            "global": self.data.get("global"),
            "objects": len(self.objects),
            "videos": len({obj["video"] for obj in self.objects}),
            "warnings": self.data.get("warnings", []),
        }

    def detail(self) -> dict:
        """The summary, every object with its per-frame scores and its worst frames (lowest (J + F) / 2)."""
        objects = [
            {"index": i, **obj, "worst_frames": worst_frames(obj)} for i, obj in enumerate(self.objects)
        ]
        return {**self.summary(), "objects": objects}

    def object(self, index: int) -> dict:
        if not 0 <= index < len(self.objects):
            raise LookupError(f"run {self.name} has {len(self.objects)} objects (0..{len(self.objects) - 1})")
        return self.objects[index]

    def predicted_mask(self, obj: dict, frame: str) -> np.ndarray | None:
        """The predicted mask of ``obj`` on ``frame`` (a frame name listed in the results), None when absent."""
        return results_file.object_mask(self.path.parent, obj, frame)


def load_runs(paths: list[Path]) -> dict[str, Run]:
    """Each results file (or a folder holding results.json) as a Run, under a unique URL-safe name."""
    runs: dict[str, Run] = {}
    for given in paths:
        path = given / "results.json" if given.is_dir() else given
        data = _read_results(path)
        base = _NAME_PART.sub("_", path.parent.name if path.name == "results.json" else path.stem) or "run"
        name, number = base, 1
        while name in runs:
            number += 1
            name = f"{base}-{number}"
        runs[name] = Run(name, path, data)
    return runs


def worst_frames(obj: dict, count: int = WORST_FRAMES) -> list[str]:
    """The ``count`` frames of an object with the lowest (J + F) / 2, worst first (ties: earlier frame first)."""
    return results_file.worst_frames(obj, count)


def _read_results(path: Path) -> dict:
    return results_file.read_results(path, OBJECT_FIELDS)
