"""Progress of long library calls, reported through a callback: the library never prints, the CLI draws the bars.

A long call (a conversion or index run, a validation, a render) takes ``progress``: a callable receiving a
:class:`Progress` when the work starts and after each unit of it. ``None`` (the default) reports nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of work finished, ``failed`` of them failed (runs that go on after failures)."""

    done: int
    total: int
    failed: int = 0


ProgressCallback = Callable[[Progress], None]


def counted(items: Iterable[T], total: int, progress: ProgressCallback | None) -> Iterator[T]:
    """``items`` unchanged, reporting 0 of ``total`` first and one more each time the consumer asks for the next."""
    if progress is None:
        yield from items
        return
    progress(Progress(0, total))
    for done, item in enumerate(items, 1):
        yield item
        progress(Progress(done, total))
