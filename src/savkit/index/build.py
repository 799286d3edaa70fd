"""Build or update the Parquet index of a dataset root, reading only new or changed annotation sources.

The ``files`` manifest remembers each source's (path, size, mtime_ns); a re-run reads the sources whose
fingerprint differs, keeps the other rows, and drops the rows of removed sources. Each table is written
atomically, masklets first and the manifest last, so a killed run at worst re-reads a few sources next time.
A source that cannot be read (corrupt JSON...) is reported and left out, and retried by the next run.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from savkit.errors import SavkitError
from savkit.index.layout import FILES_FILE, FORMAT_VERSION, MASKLETS_FILE, META_FILE, VIDEOS_FILE
from savkit.index.read import ReadTask, SourceRows, read_source, task_path
from savkit.index.scan import Scan, scan_root
from savkit.index.schema import FILES_SCHEMA, MASKLETS_SCHEMA, VIDEOS_SCHEMA
from savkit.io.atomic import atomic_path, write_text_atomic
from savkit.parallel import check_workers, run_tasks

MASKLET_ORDER = [
    ("split", "ascending"),
    ("video_id", "ascending"),
    ("type", "descending"),
    ("masklet_id", "ascending"),
]


@dataclass(frozen=True)
class IndexReport:
    """Outcome of ``build_index``: what was read, dropped and skipped, and the size of the index."""

    index_dir: Path
    sources: int
    read: list[str]
    removed: list[str]
    failures: list[tuple[str, str]]
    videos: int
    masklets: int
    seconds: float


def build_index(
    root: str | Path,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: object = None,
    progress: bool = True,
) -> IndexReport:
    """Index every train JSON and val/test annotation folder under ``root`` into ``out_dir``."""
    start = time.perf_counter()
    root, out_dir = Path(root).resolve(), Path(out_dir)
    if not root.is_dir():
        raise SavkitError(f"{root} is not a folder: pass the dataset root holding the annotation files")
    if out_dir.exists() and not out_dir.is_dir():
        raise SavkitError(f"{out_dir} is a file: pass a folder for the index tables")
    check_workers(workers)
    scan = scan_root(root)
    if not scan.sources:
        raise SavkitError(
            f"no annotations under {root}: expected *_manual.json / *_auto.json files or Annotations_6fps folders"
        )
    old_files = _previous_manifest(out_dir, root)
    known = _fingerprints(old_files)
    changed = [s for path, s in sorted(scan.sources.items()) if known.get(path) != s.fingerprint]
    removed = sorted(set(known) - set(scan.sources))
    run = run_tasks(
        read_source,
        [ReadTask(str(root), source) for source in changed],
        workers=workers,
        scheduler=scheduler,
        progress=progress and bool(changed),
        desc="index",
        unit="file",
        key=task_path,
    )
    new_rows = [run.results[s.path] for s in changed if s.path in run.results]
    stale = {s.path for s in changed} | set(removed)
    kept = pa.array(sorted(set(known) - stale), pa.string())
    if stale:
        write_index_table(_updated_masklets(out_dir / MASKLETS_FILE, kept, new_rows), out_dir / MASKLETS_FILE)
    files = _updated_files(old_files, kept, new_rows)
    videos = videos_table(files, scan)
    write_index_table(videos, out_dir / VIDEOS_FILE)
    write_index_table(files, out_dir / FILES_FILE)
    write_index_meta(out_dir, root)
    return IndexReport(
        index_dir=out_dir,
        sources=len(scan.sources),
        read=[s.path for s in changed],
        removed=removed,
        failures=sorted((path, reason.removeprefix(f"{root / path}: ")) for path, reason in run.failures),
        videos=videos.num_rows,
        masklets=pq.read_metadata(out_dir / MASKLETS_FILE).num_rows,
        seconds=time.perf_counter() - start,
    )


def videos_table(files: pa.Table, scan: Scan) -> pa.Table:
    """One row per (split, video): video fields from its manual source if any, masklet counts per type."""
    by_video = defaultdict(list)
    for row in files.to_pylist():
        by_video[row["split"], row["video_id"]].append(row)
    rows = []
    for (split, video_id), parts in sorted(by_video.items()):
        counts = {"manual": 0, "auto": 0}
        for part in parts:
            counts[part["type"]] += part["n_masklets"]
        first = min(parts, key=lambda part: (part["type"] != "manual", part["path"]))
        video_fields = {
            name: first[name] for name in ("duration", "frame_count", "height", "width", "environment")
        }
        rows.append(
            {
                "video_id": video_id,
                "split": split,
                **video_fields,
                "n_manual": counts["manual"],
                "n_auto": counts["auto"],
                "has_mp4": video_id in scan.mp4_ids,
                "sources": sorted(part["path"] for part in parts),
            }
        )
    return pa.Table.from_pylist(rows, schema=VIDEOS_SCHEMA)


def _previous_manifest(out_dir: Path, root: Path) -> pa.Table:
    """The manifest of an index of the same root and format in ``out_dir``, else an empty one (full build)."""
    try:
        meta = json.loads((out_dir / META_FILE).read_text())
        if meta == _meta(root) and (out_dir / MASKLETS_FILE).is_file():
            return pq.read_table(out_dir / FILES_FILE, schema=FILES_SCHEMA)
    except (OSError, ValueError, pa.ArrowException):
        pass
    return FILES_SCHEMA.empty_table()


def _fingerprints(files: pa.Table) -> dict[str, tuple[int, int]]:
    paths, sizes, mtimes = (files[name].to_pylist() for name in ("path", "size", "mtime_ns"))
    return {path: (size, mtime) for path, size, mtime in zip(paths, sizes, mtimes, strict=True)}


def _updated_files(old: pa.Table, kept: pa.Array, new_rows: list[SourceRows]) -> pa.Table:
    new = pa.Table.from_pylist([rows.file_row for rows in new_rows], schema=FILES_SCHEMA)
    return pa.concat_tables([_only_sources(old, "path", kept), new]).sort_by("path")


def _updated_masklets(path: Path, kept: pa.Array, new_rows: list[SourceRows]) -> pa.Table:
    """The previous masklet rows of kept sources plus the rows just read, in a stable order."""
    old = pq.read_table(path, schema=MASKLETS_SCHEMA) if len(kept) else MASKLETS_SCHEMA.empty_table()
    tables = [_only_sources(old, "source", kept), _masklets_of(new_rows)]
    return pa.concat_tables(tables).sort_by(MASKLET_ORDER)


def _only_sources(table: pa.Table, column: str, kept: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table[column], value_set=kept))


def _masklets_of(new_rows: list[SourceRows]) -> pa.Table:
    columns = {
        name: [value for rows in new_rows for value in rows.masklet_columns[name]]
        for name in MASKLETS_SCHEMA.names
        if name != "areas"
    }
    areas = [area for rows in new_rows for area in rows.areas]
    offsets = np.cumsum([0] + [len(area) for area in areas], dtype=np.int32)
    values = np.concatenate(areas) if areas else np.zeros(0, np.int32)
    columns["areas"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.int32()))
    return pa.table(columns, schema=MASKLETS_SCHEMA)


def write_index_table(table: pa.Table, path: Path) -> None:
    """Write one index table atomically, with the settings of every index table (zstd Parquet)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_index_meta(out_dir: Path, root: str | Path) -> None:
    """The meta file, written last: the index format and the root it indexes (another root: a full build)."""
    write_text_atomic(out_dir / META_FILE, json.dumps(_meta(root), indent=2))


def _meta(root: str | Path) -> dict:
    return {"format": FORMAT_VERSION, "root": str(root)}
