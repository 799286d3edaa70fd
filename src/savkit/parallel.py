"""The single parallel runner: one function per item, in local processes or on a Dask distributed cluster.

Dataset-scale jobs (50,583 SA-V train videos) are a list of independent per-video tasks. ``run_tasks`` runs them
with the same semantics everywhere: a failing item is recorded with a one-line reason and never stops the others,
a worker process that dies (native crash, out of memory, killed) ends as a failure of its item instead of a hang,
and a ``progress`` callback hears of each finished item (the CLI draws a bar from it: items/s and the ETA).

Per-video outputs are resumable: ``video_output`` writes a video's folder under a temporary name, renames it into
place and only then writes a completion marker, so a killed run loses no finished video and a re-run redoes only
videos without a marker (``is_complete``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_dir, write_text_atomic
from savkit.progress import Progress, ProgressCallback

MARKER_DIR = ".savkit-complete"
CRASH_REASON = "worker process died while running this item (native crash, out of memory or killed)"
_MAX_REASON = 300


@dataclass
class RunReport:
    """Outcome of ``run_tasks``: results and one-line failure reasons keyed by item key, and the wall time."""

    results: dict[Hashable, Any] = field(default_factory=dict)
    failures: list[tuple[Hashable, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class VideoStats:
    """What a per-video task returns: files and bytes of its output; ``skipped`` if it was already complete."""

    files: int
    bytes: int
    skipped: bool = False


@dataclass(frozen=True)
class Summary:
    """End-of-run totals of a per-video job; files and bytes count what this run wrote (not skipped videos)."""

    videos: int
    skipped: int
    failed: int
    files: int
    bytes: int
    seconds: float

    @classmethod
    def of(cls, report: RunReport) -> Summary:
        stats = [s for s in report.results.values() if isinstance(s, VideoStats)]
        written = [s for s in stats if not s.skipped]
        return cls(
            videos=len(written),
            skipped=len(stats) - len(written),
            failed=len(report.failures),
            files=sum(s.files for s in written),
            bytes=sum(s.bytes for s in written),
            seconds=report.seconds,
        )

    def describe(self, file_noun: str = "file") -> str:
        """One line for humans, e.g. ``12 videos done, 3 skipped, 1 failed; 2,400 frames, 1.2 GB in 12.3 s``."""
        return (
            f"{_count(self.videos, 'video')} done, {self.skipped:,} skipped, {self.failed:,} failed; "
            f"{_count(self.files, file_noun)}, {_human_bytes(self.bytes)} in {self.seconds:.1f} s"
        )


def run_tasks(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: ProgressCallback | None = None,
    key: Callable[[Any], Hashable] | None = None,
    size: Callable[[Any], int] | None = None,
    on_result: Callable[[Hashable, Any], None] | None = None,
) -> RunReport:
    """Call the picklable top-level ``func(item)`` for every item; failures are recorded, never raised.

    ``workers``: local processes (default: ``available_cores()``; 1 runs in this process). ``scheduler``: the
    address of an existing Dask distributed scheduler (or a ``distributed.Client``); it takes precedence over
    ``workers``. ``key(item)`` names an item in the report (default: the item itself). ``size(item)``: how many
    units of work an item counts for in ``progress`` reports (batched items; default 1). ``on_result(key, result)`` is
    called here as each result arrives, instead of keeping it in ``report.results`` (to save results as they
    come, so that an interrupted run keeps them).
    """
    check_workers(workers)
    workers = workers or available_cores()
    items = list(items)
    key = key or _identity
    size = size or _one
    report = RunReport()
    start = time.perf_counter()
    total = sum(size(item) for item in items)
    done = 0
    if progress is not None:
        progress(Progress(0, total))

    def record(index: int, ok: bool, value: Any) -> None:
        nonlocal done
        if ok and on_result is not None:
            on_result(key(items[index]), value)
        elif ok:
            report.results[key(items[index])] = value
        else:
            report.failures.append((key(items[index]), value))
        done += size(items[index])
        if progress is not None:
            progress(Progress(done, total, len(report.failures)))

    if scheduler is not None:
        _run_on_dask(func, items, scheduler, record)
    elif workers == 1 or len(items) <= 1:
        for index, item in enumerate(items):
            record(index, *_call(func, item))
    else:
        _run_in_processes(func, items, workers, record)
    report.seconds = time.perf_counter() - start
    return report


def check_workers(workers: int | None) -> None:
    """Reject a worker count below 1 (callers may check before costly preparation, ``run_tasks`` always does)."""
    if workers is not None and workers < 1:
        raise SavkitError(f"workers must be at least 1, not {workers}")


def available_cores() -> int:
    """Cores this process may use (the affinity mask of a container or batch job), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def one_line_reason(exc: BaseException) -> str:
    """A failure reason that fits on one line: the message for SavkitError, else ``Type: message``."""
    message = " ".join(str(exc).split())
    reason = message if isinstance(exc, SavkitError) else f"{type(exc).__name__}: {message}".rstrip(": ")
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 3] + "..."


def _identity(item: Any) -> Any:
    return item


def _one(item: Any) -> int:
    return 1


def _call(func: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """Run one item and turn any exception into a picklable one-line reason (runs inside workers)."""
    try:
        return True, func(item)
    except Exception as exc:
        return False, one_line_reason(exc)


Record = Callable[[int, bool, Any], None]


def _run_in_processes(func: Callable[[Any], Any], items: list[Any], workers: int, record: Record) -> None:
    """Run items in a process pool; items caught in a pool broken by a dying worker are re-run one by one.

    A dead worker breaks the whole pool, so every in-flight item is only a suspect: re-running each suspect alone
    in a fresh single-process pool tells the crashing item (a failure) from the innocent ones (results).
    """
    todo = deque(enumerate(items))
    suspects: list[tuple[int, Any]] = []
    while todo:
        suspects += _run_pool(func, todo, workers, record)
    for suspect in suspects:
        if _run_pool(func, deque([suspect]), 1, record):
            record(suspect[0], False, CRASH_REASON)


def _run_pool(func: Callable[[Any], Any], todo: deque, workers: int, record: Record) -> list[tuple[int, Any]]:
    """Feed ``todo`` to a fresh pool (a bounded window in flight) until done or broken; return the broken items."""
    in_flight: dict[Future, tuple[int, Any]] = {}
    broken: list[tuple[int, Any]] = []
    with ProcessPoolExecutor(workers, mp_context=_process_context(func)) as pool:
        while todo or in_flight:
            while todo and not broken and len(in_flight) < 2 * workers:
                entry = todo.popleft()
                try:
                    in_flight[pool.submit(_call, func, entry[1])] = entry
                except BrokenProcessPool:
                    todo.appendleft(entry)
                    break
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                entry, error = in_flight.pop(future), future.exception()
                if isinstance(error, BrokenProcessPool):
                    broken.append(entry)
                elif error is not None:  # the item or its result could not be pickled
                    record(entry[0], False, one_line_reason(error))
                else:
                    record(entry[0], *future.result())
    return broken


def _process_context(func: Callable[[Any], Any]) -> multiprocessing.context.BaseContext:
    """Workers fork from a clean server process (not from a possibly multi-threaded parent).

    The server imports the main module and ``func``'s module once (numpy, PyAV, OpenCV...), so a worker starts
    in milliseconds instead of importing them again.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__", func.__module__])
    return context


def _run_on_dask(func: Callable[[Any], Any], items: list[Any], scheduler: Any, record: Record) -> None:
    """Submit every item to a Dask distributed cluster; a task whose worker died (KilledWorker) is a failure."""
    try:
        import distributed
    except ImportError:
        raise SavkitError("a Dask scheduler needs dask distributed: pip install 'savkit[dask]'") from None
    own_client = not isinstance(scheduler, distributed.Client)
    try:
        client = distributed.Client(scheduler) if own_client else scheduler
    except OSError as exc:
        raise SavkitError(f"cannot connect to the Dask scheduler {scheduler}: {exc}") from None
    try:
        futures = dict(
            zip(client.map(partial(_call, func), items, pure=False), range(len(items)), strict=True)
        )
        for future in distributed.as_completed(futures):
            index = futures.pop(future)
            if future.status == "finished":
                record(index, *future.result())
            else:
                record(index, False, _dask_failure_reason(future))
            future.release()
    finally:
        if own_client:
            client.close()


def _dask_failure_reason(future: Any) -> str:
    """Exceptions inside ``func`` come back as reasons from ``_call``; this is what the cluster itself reports."""
    import distributed

    if future.status != "error":
        return f"the Dask cluster {future.status} this task"
    error = future.exception()
    if isinstance(error, distributed.KilledWorker):
        return f"{CRASH_REASON} (Dask KilledWorker)"
    return one_line_reason(error)


def is_complete(out_dir: str | os.PathLike, video_id: str) -> bool:
    """True if ``out_dir/video_id`` was fully written by ``video_output`` (folder and marker both present)."""
    return (Path(out_dir) / video_id).is_dir() and _marker(out_dir, video_id).is_file()


def completed_stats(out_dir: str | os.PathLike, video_id: str) -> VideoStats:
    """The stats recorded in a complete video's marker, flagged as skipped."""
    recorded = json.loads(_marker(out_dir, video_id).read_text())
    return VideoStats(files=recorded["files"], bytes=recorded["bytes"], skipped=True)


@contextlib.contextmanager
def video_output(out_dir: str | os.PathLike, video_id: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out_dir/video_id`` (then gets its marker) if the block succeeds.

    A partial output of a killed run (a folder without marker, or a stale temporary folder) is replaced.
    A complete output is replaced only with ``overwrite``; the caller checks ``is_complete`` to skip it.
    """
    if is_complete(out_dir, video_id) and not overwrite:
        raise SavkitError(f"{Path(out_dir) / video_id} is already complete; pass overwrite=True to redo it")
    marker = _marker(out_dir, video_id)
    marker.unlink(missing_ok=True)
    with atomic_dir(Path(out_dir) / video_id, temporary=partial_folder(out_dir, video_id)) as tmp:
        yield tmp
    stats = _folder_stats(Path(out_dir) / video_id)
    write_text_atomic(marker, json.dumps({"files": stats.files, "bytes": stats.bytes}))


def write_video_output(
    out_dir: str | os.PathLike, video_id: str, write: Callable[[Path], None], overwrite: bool = False
) -> VideoStats:
    """Skip a complete video (unless ``overwrite``), else run ``write(folder)`` inside ``video_output``."""
    if is_complete(out_dir, video_id) and not overwrite:
        return completed_stats(out_dir, video_id)
    with video_output(out_dir, video_id, overwrite=True) as tmp:
        write(tmp)
    return dataclasses.replace(completed_stats(out_dir, video_id), skipped=False)


def _marker(out_dir: str | os.PathLike, video_id: str) -> Path:
    return Path(out_dir) / MARKER_DIR / f"{video_id}.json"


def partial_folder(out_dir: str | os.PathLike, video_id: str) -> Path:
    """Where a video is written before its rename; a killed run leaves it behind and the next run clears it."""
    return Path(out_dir) / f".{video_id}.partial"


def _folder_stats(folder: Path) -> VideoStats:
    sizes = [path.stat().st_size for path in folder.rglob("*") if path.is_file()]
    return VideoStats(files=len(sizes), bytes=sum(sizes))


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _human_bytes(count: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"
