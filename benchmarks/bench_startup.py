"""How long a user waits for short commands, each timed as a whole process (Python start and imports included).

Runs, interleaved over --rounds (median kept, so that the ratios hold on a shared machine):

* ``python -c "import numpy"``, the yardstick;
* ``savkit --help`` and ``savkit --version`` (target: within 1.5x of the yardstick);
* ``savkit stats INDEX`` and a filtered ``savkit query INDEX SQL`` on a generated index of --index-videos
  (default 50,000) SA-V-like train videos, the tables ``savkit index`` writes (bench_index.py's generator)
  (target: under 0.5 s each).

``savkit`` is the console script installed next to this Python, as users run it.

    python benchmarks/bench_startup.py [--rounds 5] [--index-videos 50000] [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_index import CURATION_SQL, write_synthetic_index
from timing import savkit_command

HELP_RATIO = 1.5
SHORT_COMMAND_S = 0.5


def commands(index_dir: Path) -> dict[str, list[str]]:
    savkit = savkit_command()
    return {
        "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
        "savkit --help": [*savkit, "--help"],
        "savkit --version": [*savkit, "--version"],
        "savkit stats": [*savkit, "stats", str(index_dir)],
        "savkit query (filtered)": [*savkit, "query", str(index_dir), CURATION_SQL],
    }


def process_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_times(runs: dict[str, list[str]], rounds: int) -> dict[str, float]:
    """Every command once per round, rounds interleaved; the median of each command's rounds."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(1, rounds + 1):
        for name, command in runs.items():
            times[name].append(process_seconds(command))
        print(f"  round {round_number}/{rounds} done", file=sys.stderr, flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def report(medians: dict[str, float]) -> None:
    numpy_s = medians["python -c 'import numpy'"]
    print(f"\n{'command':28} {'median s':>9} {'vs numpy':>9}  target")
    for name, seconds in medians.items():
        ratio = seconds / numpy_s
        if name in ("savkit --help", "savkit --version"):
            verdict = f"<= {HELP_RATIO}x numpy: {'OK' if ratio <= HELP_RATIO else 'MISSED'}"
        elif name.startswith("savkit"):
            verdict = f"< {SHORT_COMMAND_S} s: {'OK' if seconds < SHORT_COMMAND_S else 'MISSED'}"
        else:
            verdict = "(yardstick)"
        print(f"{name:28} {seconds:9.3f} {ratio:8.2f}x  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="runs of each command (median kept)")
    parser.add_argument("--index-videos", type=int, default=50_000, help="videos in the generated index")
    parser.add_argument("--quick", action="store_true", help="3 rounds on a 2,000-video index")
    args = parser.parse_args()
    rounds, videos = (3, 2_000) if args.quick else (args.rounds, args.index_videos)
    work = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        print(f"generating an index of {videos:,} videos...", file=sys.stderr, flush=True)
        masklets = write_synthetic_index(work / "index", videos)
        print(f"index of {videos:,} videos, {masklets:,} masklets; {rounds} interleaved rounds")
        report(median_times(commands(work / "index"), rounds))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
