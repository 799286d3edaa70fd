"""Read annotation sources into index rows (runs in worker processes; masks are never decoded for JSONs).

Train JSONs go through ``read_sav_json`` and areas come from the RLE runs; a val/test folder goes through
``read_valtest_video``, which has to read its PNGs. Sources are read in batches (``ReadBatch``) and a batch
comes back as two Arrow tables (its ``files`` and ``masklets`` rows), so the parent process only concatenates
and saves them: no per-source task overhead and no big Python objects to pickle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from savkit.annotations.model import VideoAnnotations
from savkit.annotations.rle import first_corrupt
from savkit.annotations.sav_json import parse_train_json_name, read_sav_json
from savkit.errors import SavkitError
from savkit.index.layout import JSON_SOURCE, Source
from savkit.index.schema import FILES_SCHEMA, MASKLETS_SCHEMA
from savkit.parallel import one_line_reason

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


@dataclass(frozen=True)
class ReadBatch:
    """A work item: consecutive sources read by one task (their paths relative to ``root``)."""

    root: str
    sources: tuple[Source, ...]


@dataclass
class BatchRows:
    """What a batch contributes: its ``files`` and ``masklets`` rows, and the sources it could not read."""

    files: pa.Table
    masklets: pa.Table
    failures: list[tuple[str, str]] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the CPU time the batch took in its worker


def task_path(task: ReadTask) -> str:
    return task.source.path


def batch_key(batch: ReadBatch) -> str:
    return batch.sources[0].path


def batch_size(batch: ReadBatch) -> int:
    return len(batch.sources)


def read_batch(batch: ReadBatch) -> BatchRows:
    """Read every source of a batch; one that cannot be read is a failure with its reason, the others go on."""
    start = time.process_time()
    rows, failures = [], []
    for source in batch.sources:
        try:
            rows.append(read_source(ReadTask(batch.root, source)))
        except Exception as exc:
            failures.append((source.path, one_line_reason(exc)))
    files, masklets = files_table(rows), masklets_table(rows)
    return BatchRows(files, masklets, failures, time.process_time() - start)


def files_table(rows: list[SourceRows]) -> pa.Table:
    return pa.Table.from_pylist([source.file_row for source in rows], schema=FILES_SCHEMA)


def masklets_table(rows: list[SourceRows]) -> pa.Table:
    """The masklet rows of several sources as one table (areas as one int32 list column)."""
    columns = {
        name: [value for source in rows for value in source.masklet_columns[name]]
        for name in MASKLETS_SCHEMA.names
        if name != "areas"
    }
    areas = [area for source in rows for area in source.areas]
    offsets = np.cumsum([0] + [len(area) for area in areas], dtype=np.int32)
    values = np.concatenate(areas) if areas else np.zeros(0, np.int32)
    columns["areas"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.int32()))
    return pa.table(columns, schema=MASKLETS_SCHEMA)


def read_source(task: ReadTask) -> SourceRows:
    """Read a train JSON or a val/test video folder; bad input raises (the runner records it per source)."""
    source = task.source
    path = Path(task.root) / source.path
    if not source.path.isascii() and not _is_utf8(source.path):
        raise SavkitError(
            f"{path}: the path is not valid UTF-8 (index tables store text as UTF-8): rename it"
        )
    if source.kind == JSON_SOURCE:
        video_id, masklet_type = parse_train_json_name(path.name)
        video = read_sav_json(path)
        _check_runs(video, path)
    else:
        video_id, masklet_type = path.name, "manual"
        video = read_valtest_video(path.parent.parent, video_id)
    return _rows(video, video_id, masklet_type, source)


def _is_utf8(text: str) -> bool:
    """False for a name read from non-UTF-8 bytes (Python keeps them as surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_runs(video: VideoAnnotations, path: Path) -> None:
    """Areas come from the runs: a cut or garbage ``counts`` would be indexed with a wrong (even negative) area,
    so the file is refused as ``savkit validate`` would report it."""
    frames = [[m.rles[k] for m in video.masklets] for k in range(video.num_annotated_frames)]
    corrupt = first_corrupt(frames)
    if corrupt is not None:
        raise SavkitError(
            f"{path}: corrupt RLE at {corrupt.field}: {corrupt.found}; "
            "run `savkit validate` on it and download the file again"
        )


def read_valtest_video(annotations_dir: Path, video_id: str) -> VideoAnnotations:
    """The val/test reader, imported on first use: workers that read only JSONs start without Pillow and OpenCV."""
    from savkit.annotations.valtest import read_valtest_video as read

    return read(annotations_dir, video_id)


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
