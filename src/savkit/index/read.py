"""Read one annotation source into index rows (runs in worker processes; masks are never decoded for JSONs).

Train JSONs go through ``read_sav_json`` and areas come from the RLE runs; a val/test folder goes through
``read_valtest_video``, which has to read its PNGs. The result is small and columnar, cheap to send back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from savkit.annotations import VideoAnnotations, read_sav_json, read_valtest_video
from savkit.annotations.sav_json import parse_train_json_name
from savkit.index.layout import JSON_SOURCE
from savkit.index.scan import Source

STORED_METADATA = (
    "size_rel",
    "size_abs",
    "size_bucket",
    "visibility_changes",
    "first_appeared_frame",
    "frame_count",
    "edited_frame_count",
)


@dataclass(frozen=True)
class ReadTask:
    """A work item: the source to read and the root it is relative to."""

    root: str
    source: Source


@dataclass
class SourceRows:
    """What one source contributes: its ``files`` row and its ``masklets`` columns (areas kept as int32 arrays)."""

    file_row: dict
    masklet_columns: dict[str, list]
    areas: list[np.ndarray]


def task_path(task: ReadTask) -> str:
    return task.source.path


def read_source(task: ReadTask) -> SourceRows:
    """Read a train JSON or a val/test video folder; bad input raises (the runner records it per source)."""
    source = task.source
    path = Path(task.root) / source.path
    if source.kind == JSON_SOURCE:
        video_id, masklet_type = parse_train_json_name(path.name)
        video = read_sav_json(path)
    else:
        video_id, masklet_type = path.name, "manual"
        video = read_valtest_video(path.parent.parent, video_id)
    return _rows(video, video_id, masklet_type, source)


def _rows(video: VideoAnnotations, video_id: str, masklet_type: str, source: Source) -> SourceRows:
    masklets = video.masklets
    file_row = {
        "path": source.path,
        "kind": source.kind,
        "size": source.size,
        "mtime_ns": source.mtime_ns,
        "type": masklet_type,
        "video_id": video_id,
        "split": video.split,
        "duration": video.duration,
        "frame_count": video.frame_count,
        "height": video.height,
        "width": video.width,
        "environment": video.environment,
        "n_masklets": len(masklets),
    }
    columns = {
        "video_id": [video_id] * len(masklets),
        "split": [video.split] * len(masklets),
        "masklet_id": [m.id for m in masklets],
        "type": [m.type for m in masklets],
        **{name: [getattr(m, name) for m in masklets] for name in STORED_METADATA},
        "stability_score": [_mean_or_none(m.stability_score) for m in masklets],
        "source": [source.path] * len(masklets),
    }
    return SourceRows(file_row, columns, [m.areas().astype(np.int32) for m in masklets])


def _mean_or_none(scores: list[float] | None) -> float | None:
    values = [s for s in scores or [] if s is not None]
    return float(np.mean(values)) if values else None
