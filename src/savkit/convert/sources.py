"""The per-video inputs of a conversion (files found recursively, as the released tar files unpack) and their runner.

The runner is where a conversion's safety rules apply, once for all three: OUT apart from the sources, OUT locked
(one run at a time, leftovers of killed runs cleared, settings checked), unsafe video ids refused.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol

from savkit.errors import SavkitError
from savkit.io.names import IgnoredEntriesWarning, ignored_message, split_ignored, video_id_problem
from savkit.parallel import RunReport, locked_output, run_tasks
from savkit.progress import ProgressCallback


class VideoTask(Protocol):
    """What the runner needs of a conversion task: the video id it writes and the source paths it reads."""

    @property
    def video_id(self) -> str: ...

    @property
    def sources(self) -> tuple[Path, ...]: ...


def find_files(src: str | os.PathLike, suffix: str, what: str) -> list[Path]:
    """``src`` itself if it is a ``suffix`` file, else every ``suffix`` file below it (ignored entries skipped and
    counted in an IgnoredEntriesWarning: :mod:`savkit.io.names`).

    File names (stems) must be unique: they become output folder names.
    """
    root = Path(src)
    if root.is_file() and root.name.endswith(suffix):
        return [root]
    if not root.is_dir():
        raise SavkitError(f"{root}: not a folder or a {suffix} file; give the folder holding the {what}")
    files, ignored = split_ignored(sorted(root.rglob(f"*{suffix}")), root)
    if ignored:
        warnings.warn(ignored_message(ignored, f"under {root}"), IgnoredEntriesWarning, stacklevel=3)
    files = [path for path in files if path.is_file()]
    if not files:
        raise SavkitError(f"no {suffix} file under {root}; give the folder holding the {what}")
    repeated = [name for name, count in Counter(path.name for path in files).items() if count > 1]
    if repeated:
        raise SavkitError(f"{root}: {repeated[0]} appears in several folders; video ids must be unique")
    return files


def run_video_tasks(
    func: Callable[[Any], Any],
    tasks: list[VideoTask],
    *,
    src: str | os.PathLike,
    out: str | os.PathLike,
    settings: dict,
    overwrite: bool,
    workers: int | None,
    scheduler: Any,
    progress: ProgressCallback | None,
) -> RunReport:
    """Run one conversion task per video on the shared runner, holding OUT's lock; the report is keyed by each
    task's ``video_id``.

    A task whose video id (taken from a file name) is unsafe never runs: it fails with the reason, keyed by its
    source file. ``settings`` are the options the outputs depend on (``locked_output``).
    """
    check_apart(src, out, tasks)
    refused = [(task, video_id_problem(task.video_id)) for task in tasks]
    with locked_output(out, settings, overwrite):
        report = run_tasks(
            func,
            [task for task, problem in refused if problem is None],
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            key=attrgetter("video_id"),
        )
    report.failures += [(str(task.sources[0]), problem) for task, problem in refused if problem is not None]
    return report


def check_apart(src: str | os.PathLike, out: str | os.PathLike, tasks: list[VideoTask]) -> None:
    """Refuse an OUT that is SRC, holds a source or lies inside a source folder: a conversion must never write
    over, or delete, its own input."""
    out_path, src_path = Path(out).resolve(), Path(src).resolve()
    if out_path == src_path or out_path in src_path.parents:
        relation = "is" if out_path == src_path else "holds"
        raise SavkitError(f"OUT {out} {relation} SRC {src}: choose an output folder outside the sources")
    if src_path not in out_path.parents:
        return  # apart: sources are found below SRC without following symlinked folders
    for task in tasks:
        for source in task.sources:
            source_path = source.resolve()
            if out_path in source_path.parents or source_path == out_path or source_path in out_path.parents:
                raise SavkitError(
                    f"OUT {out} and the source {source} are nested: choose an output folder outside the sources"
                )
