"""Shared timing for the benchmark scripts (import as ``from timing import best_times``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sample_data import sample_folder  # noqa: E402  (the real SA-V sample shipped in tests/data/)

__all__ = ["best_times", "sample_folder"]


def best_times(methods: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each method once per round, rounds interleaved: the best time is the least disturbed by other load."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(rounds):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
