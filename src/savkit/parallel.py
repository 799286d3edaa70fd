"""The single parallel runner: one function per item, in local processes or on a Dask distributed cluster.

Dataset-scale jobs (50,583 SA-V train videos) are a list of independent per-video tasks. ``run_tasks`` runs them
with the same semantics everywhere: a failing item is recorded with a one-line reason and never stops the others,
a worker process that dies (native crash, out of memory, killed) ends as a failure of its item instead of a hang,
and a ``progress`` callback hears of each finished item (the CLI draws a bar from it: items/s and the ETA).

Per-video outputs are resumable and never touch what savkit did not write: a run holds the output folder's lock
(``locked_output``: one run per folder, leftovers of killed runs cleared, settings checked), and
``write_video_output`` marks a video as being written, writes it under a temporary name, checks its file count,
renames it into place and only then marks it complete with its settings. A killed run loses no finished video, a
re-run redoes only videos not marked complete, and a folder without savkit's marker is never replaced. Workers
die with the main process, so a killed run leaves no process writing on.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import multiprocessing.connection
import os
import re
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
from savkit.io.atomic import (
    atomic_dir,
    atomic_path,
    is_temporary_name,
    remove_inside,
    write_bytes_atomic,
    write_text_atomic,
)
from savkit.io.lock import locked_folder
from savkit.io.names import video_id_problem
from savkit.io.process import set_up_worker
from savkit.progress import Progress, ProgressCallback

MARKER_DIR = ".savkit-complete"
SETTINGS_FILE = (
    ".settings.json"  # in MARKER_DIR: a video id never starts with a dot, so never a marker's name
)
WRITING, COMPLETE = "writing", "complete"  # the states a marker records
_PARTIAL_NAME = re.compile(r"\.(.+)\.partial")
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
    with ProcessPoolExecutor(workers, mp_context=_process_context(func), initializer=set_up_worker) as pool:
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


@contextlib.contextmanager
def locked_output(
    out_dir: str | os.PathLike, settings: dict | None = None, overwrite: bool = False
) -> Iterator[Path]:
    """Hold the lock of ``out_dir`` for a run (one run per output folder), then clear what killed runs left in it
    (temporaries of atomic writes, ``.{id}.partial`` folders) and check ``settings`` against the recorded ones.

    ``settings`` (e.g. ``{"command": "extract-frames", "every": 4, "quality": 95}``) are what the outputs depend
    on: a folder written with other settings is an error unless ``overwrite``, which redoes its outputs.
    """
    with locked_folder(out_dir) as out:
        _clear_leftovers(out)
        if settings is not None:
            _check_settings(out, settings, overwrite)
        yield out


def is_complete(out_dir: str | os.PathLike, name: str) -> bool:
    """True if ``out_dir/name`` was fully written by savkit (output present, its marker says complete)."""
    marker = _read_marker(Path(out_dir), name)
    return marker is not None and marker.get("state") == COMPLETE and os.path.lexists(Path(out_dir) / name)


def completed_stats(out_dir: str | os.PathLike, name: str) -> VideoStats:
    """The stats recorded in a complete output's marker, flagged as skipped."""
    recorded = _read_marker(Path(out_dir), name) or {}
    return VideoStats(files=recorded["files"], bytes=recorded["bytes"], skipped=True)


def write_video_output(
    out_dir: str | os.PathLike,
    video_id: str,
    write: Callable[[Path], int],
    overwrite: bool = False,
    settings: dict | None = None,
) -> VideoStats:
    """Write the folder ``out_dir/video_id`` with ``write(folder) -> expected file count``, all or nothing.

    Skipped if complete with the same ``settings`` (unless ``overwrite``). The folder is written as
    ``.{id}.partial``, its file count checked against what ``write`` expected, renamed into place, and only then
    marked complete (with its settings). A folder savkit did not write (no marker) is never replaced.
    """
    out = Path(out_dir)
    done = _reusable(out, video_id, overwrite, settings)
    if done is not None:
        return done
    with _marked_while_written(out, video_id, settings):
        with atomic_dir(out / video_id, temporary=partial_folder(out, video_id), root=out) as tmp:
            expected = write(tmp)
            stats = _folder_stats(tmp)
            if stats.files != expected:
                raise SavkitError(
                    f"{out / video_id}: {stats.files} files written, {expected} expected; not marked complete"
                )
        return _mark_complete(out, video_id, settings, stats)


def write_file_output(
    out_dir: str | os.PathLike,
    name: str,
    write: Callable[[Path], None],
    overwrite: bool = False,
    settings: dict | None = None,
) -> VideoStats:
    """``write_video_output`` for an output that is one file ``out_dir/name``: ``write(path)`` writes it."""
    out = Path(out_dir)
    done = _reusable(out, name, overwrite, settings)
    if done is not None:
        return done
    with _marked_while_written(out, name, settings):
        with atomic_path(out / name, root=out) as tmp:
            write(tmp)
            if not tmp.is_file() or tmp.stat().st_size == 0:
                raise SavkitError(f"{out / name}: nothing was written; not marked complete")
            stats = VideoStats(files=1, bytes=tmp.stat().st_size)
        return _mark_complete(out, name, settings, stats)


def partial_folder(out_dir: str | os.PathLike, video_id: str) -> Path:
    """Where a video is written before its rename; a killed run leaves it behind and the next run clears it."""
    return Path(out_dir) / f".{video_id}.partial"


def _reusable(out: Path, name: str, overwrite: bool, settings: dict | None) -> VideoStats | None:
    """The recorded stats of a complete output to keep; None when it must be (re)written; foreign: an error.

    An output whose marker records other settings is redone: ``locked_output`` already refused a run whose
    settings differ from the folder's, so this is a leftover of an interrupted ``overwrite`` run.
    """
    marker = _read_marker(out, name)
    if marker is None:
        if os.path.lexists(out / name):
            raise SavkitError(
                f"{out / name} exists and was not written by savkit: move it or choose another output folder "
                "(savkit replaces only its own outputs, even with --overwrite)"
            )
        return None
    if overwrite or marker.get("state") != COMPLETE or marker.get("settings") != settings:
        return None
    if not os.path.lexists(out / name):
        return None
    return VideoStats(files=marker["files"], bytes=marker["bytes"], skipped=True)


@contextlib.contextmanager
def _marked_while_written(out: Path, name: str, settings: dict | None) -> Iterator[None]:
    """Mark ``out/name`` as savkit's, being written, for the block (a kill leaves it claimed, so the next run
    redoes it); a failing block leaves the output untouched, so its previous marker is put back."""
    previous = _marker(out, name).read_bytes() if _marker(out, name).is_file() else None
    _write_marker(out, name, {"state": WRITING, "settings": settings})
    try:
        yield
    except BaseException:
        if previous is None:
            remove_inside(_marker(out, name), out)
        else:
            write_bytes_atomic(_marker(out, name), previous)
        raise


def _mark_complete(out: Path, name: str, settings: dict | None, stats: VideoStats) -> VideoStats:
    record = {"state": COMPLETE, "settings": settings, "files": stats.files, "bytes": stats.bytes}
    _write_marker(out, name, record)
    return stats


def _marker(out_dir: str | os.PathLike, name: str) -> Path:
    return Path(out_dir) / MARKER_DIR / f"{name}.json"


def _read_marker(out: Path, name: str) -> dict | None:
    """A marker as a dict (markers of savkit before 0.2 held only files and bytes: complete), None if absent."""
    try:
        marker = json.loads(_marker(out, name).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": WRITING}  # savkit's marker file, unreadable: its output is redone
    if not isinstance(marker, dict):
        return {"state": WRITING}
    return {"state": COMPLETE, **marker} if "state" not in marker else marker


def _write_marker(out: Path, name: str, record: dict) -> None:
    write_text_atomic(_marker(out, name), json.dumps(record))


def _clear_leftovers(out: Path) -> None:
    """Delete the temporaries of atomic writes and the partial video folders a killed run left in ``out``."""
    for folder, stale in ((out, _is_leftover), (out / MARKER_DIR, is_temporary_name)):
        try:
            with os.scandir(folder) as scan:
                leftovers = [entry.path for entry in scan if stale(entry.name)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for path in leftovers:
            remove_inside(path, out)


def _is_leftover(name: str) -> bool:
    partial = _PARTIAL_NAME.fullmatch(name)
    return is_temporary_name(name) or (partial is not None and video_id_problem(partial[1]) is None)


def _check_settings(out: Path, settings: dict, overwrite: bool) -> None:
    """Refuse a run whose settings differ from those ``out`` was written with (unless ``overwrite``); record them."""
    path = out / MARKER_DIR / SETTINGS_FILE
    try:
        recorded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        recorded = None
    if recorded == settings:
        return
    if not overwrite:
        if recorded is not None:
            raise SavkitError(
                f"{out} holds the output of `{_as_command(recorded)}`, not `{_as_command(settings)}`: "
                "pass --overwrite to redo it, or choose another output folder"
            )
        if _has_markers(out):
            raise SavkitError(
                f"{out} was written by an earlier savkit that did not record its settings: "
                "pass --overwrite to redo it, or choose another output folder"
            )
    write_text_atomic(path, json.dumps(settings))


def _has_markers(out: Path) -> bool:
    try:
        with os.scandir(out / MARKER_DIR) as scan:
            return any(not entry.name.startswith(".") for entry in scan)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _as_command(settings: object) -> str:
    """Settings as the command line that gives them: ``extract-frames --every 4 --quality 95``."""
    if not isinstance(settings, dict):
        return "unknown settings"
    options = " ".join(
        f"--{key} {value}" for key, value in settings.items() if key != "command" and value is not None
    )
    return f"{settings.get('command', 'savkit')} {options}".strip()


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
