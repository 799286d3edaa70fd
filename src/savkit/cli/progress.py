"""Progress bars for the library's progress callbacks: tqdm on stderr (units/s, ETA), none with ``-q``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from savkit.progress import Progress, ProgressCallback


@contextmanager
def progress_bar(desc: str, unit: str, quiet: bool = False) -> Iterator[ProgressCallback | None]:
    """A callback drawing a bar (opened on the first report, so work that reports nothing shows none), or None
    when ``quiet``; the bar is closed when the block ends, also on an error, so the error line starts clean."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = None

    def report(progress: Progress) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=progress.total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
        if progress.failed:
            bar.set_postfix(failed=progress.failed, refresh=False)
        bar.update(progress.done - bar.n)

    try:
        yield report
    finally:
        if bar is not None:
            bar.close()
