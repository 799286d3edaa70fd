"""The per-video inputs of a conversion (files found recursively, as the released tar files unpack) and their runner."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from pathlib import Path
from typing import Any

from savkit.errors import SavkitError
from savkit.io.names import IgnoredEntriesWarning, ignored_message, split_ignored
from savkit.parallel import RunReport, run_tasks
from savkit.progress import ProgressCallback


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
    tasks: list,
    workers: int | None,
    scheduler: Any,
    progress: ProgressCallback | None,
) -> RunReport:
    """Run one conversion task per video on the shared runner; the report is keyed by each task's ``video_id``."""
    return run_tasks(
        func, tasks, workers=workers, scheduler=scheduler, progress=progress, key=attrgetter("video_id")
    )
