"""Shared timing for the benchmark scripts (import as ``from timing import best_times``)."""

from __future__ import annotations

import compileall
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sample_data import sample_folder  # noqa: E402  (the real SA-V sample shipped in tests/data/)

__all__ = ["best_times", "compile_savkit", "sample_folder", "savkit_command"]


def best_times(methods: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each method once per round, rounds interleaved: the best time is the least disturbed by other load."""
    best = dict.fromkeys(methods, float("inf"))
    for _ in range(rounds):
        for name, run in methods.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def savkit_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m savkit``."""
    script = Path(sys.executable).with_name("savkit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "savkit"]


def compile_savkit() -> None:
    """Write savkit's bytecode (``__pycache__``), as ``pip install`` does: an editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module it imports in each timed process."""
    import savkit

    compileall.compile_dir(Path(savkit.__file__).parent, quiet=1)
