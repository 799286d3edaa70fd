"""Build or update the Parquet index of a dataset root, reading only new or changed annotation sources.

The ``files`` manifest remembers each source's (path, size, mtime_ns); a re-run reads the sources whose
fingerprint differs, keeps the other rows, and drops the rows of removed sources. Workers read sources in
batches and return Arrow tables; what they return is saved as parts (``savkit.index.parts``) as it comes, so an
interrupted run keeps what it read. At the end the previous tables and the parts are merged, each table written
atomically (masklets first, the manifest last), and the parts removed. A source that cannot be read (corrupt
JSON, a dangling symlink...), or a folder that cannot be listed, is reported and left out (its sources are not
counted as removed), and retried by the next run. Two copies of one video under the root are reported, and only
the first is indexed.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from savkit.errors import SavkitError
from savkit.index.layout import FILES_FILE, FORMAT_VERSION, MASKLETS_FILE, META_FILE, VIDEOS_FILE, Source
from savkit.index.parts import PartStore
from savkit.index.read import BatchRows, ReadBatch, batch_key, batch_size, read_batch
from savkit.index.scan import Duplicate, Scan, scan_root
from savkit.index.schema import FILES_SCHEMA, MASKLETS_SCHEMA, VIDEOS_SCHEMA, write_index_table
from savkit.io.atomic import write_text_atomic
from savkit.parallel import CRASH_REASON, available_cores, check_workers, locked_output, run_tasks
from savkit.progress import ProgressCallback

MASKLET_ORDER = [
    ("split", "ascending"),
    ("video_id", "ascending"),
    ("type", "descending"),
    ("masklet_id", "ascending"),
]
MAX_BATCH = 32  # sources per task: per-task overhead paid once per batch
BATCHES_PER_WORKER = 4  # at least this many batches per worker, so that the load still balances

__all__ = ["IndexReport", "build_index", "videos_table", "write_index_meta", "write_index_table"]


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
    duplicates: list[Duplicate]
    read_seconds: float = 0.0  # of ``seconds``, the reading (the part done by the workers)
    read_cpu_seconds: float = 0.0  # the CPU time the reading took, summed over the workers
    ignored: int = 0  # hidden or system entries the scan skipped (savkit.io.names)


def build_index(
    root: str | Path,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: object = None,
    progress: ProgressCallback | None = None,
) -> IndexReport:
    """Index every train JSON and val/test annotation folder under ``root`` into ``out_dir``, holding its lock
    (one run at a time; temporaries left by killed runs are cleared)."""
    with locked_output(out_dir):
        return _build_index(root, out_dir, workers, scheduler, progress)


def _build_index(
    root: str | Path,
    out_dir: str | Path,
    workers: int | None,
    scheduler: object,
    progress: ProgressCallback | None,
) -> IndexReport:
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
    base = _previous_manifest(out_dir, root)
    parts = PartStore(out_dir, root)
    known = {
        path: fingerprint
        for path, (_, fingerprint) in _newest_rows([base, *map(parts.files, parts.numbers)]).items()
    }
    changed = [s for path, s in sorted(scan.sources.items()) if known.get(path) != s.fingerprint]
    read_start = time.perf_counter()
    failures, read_cpu_seconds = _read(
        root, changed, parts, workers=workers, scheduler=scheduler, progress=progress
    )
    read_seconds = time.perf_counter() - read_start
    failures += scan.failures
    files = _merge(out_dir, base, parts, scan)
    videos = videos_table(files, scan)
    write_index_table(videos, out_dir / VIDEOS_FILE)
    write_index_table(files, out_dir / FILES_FILE)
    write_index_meta(out_dir, root)
    parts.clear()
    return IndexReport(
        index_dir=out_dir,
        sources=len(scan.sources),
        read=[s.path for s in changed],
        removed=sorted(path for path in set(known) - set(scan.sources) if not scan.failed(path)),
        failures=sorted((path, reason.removeprefix(f"{root / path}: ")) for path, reason in failures),
        videos=videos.num_rows,
        masklets=pq.read_metadata(out_dir / MASKLETS_FILE).num_rows,
        seconds=time.perf_counter() - start,
        duplicates=scan.duplicates,
        read_seconds=read_seconds,
        read_cpu_seconds=read_cpu_seconds,
        ignored=scan.ignored,
    )


def _read(
    root: Path,
    sources: list[Source],
    parts: PartStore,
    *,
    workers: int | None,
    scheduler: object,
    progress: ProgressCallback | None,
) -> tuple[list[tuple[str, str]], float]:
    """Read ``sources`` in batches into ``parts`` (saved even when interrupted); the failures, the CPU time."""
    batches = _batches(root, sources, workers, scheduler)
    failures: list[tuple[str, str]] = []
    cpu_seconds = 0.0

    def save(_key: str, rows: BatchRows) -> None:
        nonlocal cpu_seconds
        failures.extend(rows.failures)
        cpu_seconds += rows.cpu_seconds
        parts.add(rows)

    try:
        run = run_tasks(
            read_batch,
            batches,
            workers=workers,
            scheduler=scheduler,
            progress=progress if sources else None,
            key=batch_key,
            size=batch_size,
            on_result=save,
        )
    finally:
        parts.save()
    by_key = {batch_key(batch): batch for batch in batches}
    for key, reason in run.failures:  # the whole batch failed: its worker died, or Dask lost it
        failures += [(source.path, reason or CRASH_REASON) for source in by_key[key].sources]
    return failures, cpu_seconds


def _batches(root: Path, sources: list[Source], workers: int | None, scheduler: object) -> list[ReadBatch]:
    """One source per task in this process; in workers, batches of up to ``MAX_BATCH`` consecutive sources."""
    parallel = scheduler is not None or (workers or available_cores()) > 1
    per_worker = len(sources) // (BATCHES_PER_WORKER * (workers or available_cores()))
    size = max(1, min(MAX_BATCH, per_worker)) if parallel else 1
    return [ReadBatch(str(root), tuple(sources[i : i + size])) for i in range(0, len(sources), size)]


def _merge(out_dir: Path, base: pa.Table, parts: PartStore, scan: Scan) -> pa.Table:
    """Write the masklets of every source's newest rows (if they changed); return the new ``files`` table.

    The rows of a source come from the newest table holding it (the previous index, then the parts in order)
    and are kept only if their fingerprint is the source's current one (not removed, changed or failed).
    """
    loaders: list[Callable[[], pa.Table]] = [lambda: _previous_masklets(out_dir)]
    loaders += [lambda number=number: parts.masklets(number) for number in parts.numbers]
    tables = [base, *map(parts.files, parts.numbers)]
    newest = _newest_rows(tables)
    current = [
        (path, newest[path][0])
        for path, s in scan.sources.items()
        if newest.get(path, (0, None))[1] == s.fingerprint
    ]
    kept = [pa.array(sorted(path for path, j in current if j == i), pa.string()) for i in range(len(tables))]
    if parts.numbers or len(kept[0]) < base.num_rows:
        masklets = [
            _only_sources(load(), "source", paths)
            for load, paths in zip(loaders, kept, strict=True)
            if len(paths)
        ]
        table = pa.concat_tables([MASKLETS_SCHEMA.empty_table(), *masklets]).sort_by(MASKLET_ORDER)
        write_index_table(table, out_dir / MASKLETS_FILE)
    files = [_only_sources(table, "path", paths) for table, paths in zip(tables, kept, strict=True)]
    return pa.concat_tables(files).sort_by("path")


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


def _newest_rows(tables: list[pa.Table]) -> dict[str, tuple[int, tuple[int, int]]]:
    """For every source: the last of ``tables`` that holds it, and the (size, mtime_ns) recorded there."""
    newest = {}
    for i, table in enumerate(tables):
        paths, sizes, mtimes = (table[name].to_pylist() for name in ("path", "size", "mtime_ns"))
        newest.update(
            (path, (i, (size, mtime))) for path, size, mtime in zip(paths, sizes, mtimes, strict=True)
        )
    return newest


def _previous_masklets(out_dir: Path) -> pa.Table:
    return pq.read_table(out_dir / MASKLETS_FILE, schema=MASKLETS_SCHEMA)


def _only_sources(table: pa.Table, column: str, kept: pa.Array) -> pa.Table:
    return table.filter(pc.is_in(table[column], value_set=kept))


def write_index_meta(out_dir: Path, root: str | Path) -> None:
    """The meta file, written last: the index format and the root it indexes (another root: a full build)."""
    write_text_atomic(out_dir / META_FILE, json.dumps(_meta(root), indent=2))


def _meta(root: str | Path) -> dict:
    return {"format": FORMAT_VERSION, "root": str(root)}
