"""``savkit report`` on a results.json of many objects, timed as a whole process (the way users run it).

Generates a results.json shaped like savkit eval's (per-frame J, F and GT areas; 30 frames per object by default)
and prints the wall-clock time of ``savkit report`` (HTML) and ``savkit report --format md``, best of --rounds,
plus ``savkit compare`` of two such runs. Needs the report extra (matplotlib):

    python benchmarks/bench_report.py [--objects 1000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def fake_results(path: Path, objects: int, frames: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(objects):
        quality = rng.uniform(0.3, 1.0)
        j = np.clip(rng.normal(quality, 0.1, frames), 0, 1)
        f = np.clip(rng.normal(quality, 0.12, frames), 0, 1)
        items.append(
            {
                "video": f"sav_{i // 3:06d}",
                "object": f"{i % 3:03d}",
                "J&F": float((j.mean() + f.mean()) * 50),
                "J": float(j.mean() * 100),
                "F": float(f.mean() * 100),
                "frames": [f"{4 * k:05d}" for k in range(1, frames + 1)],
                "J_frames": j.tolist(),
                "F_frames": f.tolist(),
                "GT_area_frames": rng.integers(0, 60_000, frames).tolist(),
            }
        )
    scores = {name: float(np.mean([o[name] for o in items])) for name in ("J&F", "J", "F")}
    data = {"protocol": "sav", "global": scores, "objects": items, "warnings": []}
    path.write_text(json.dumps(data))
    return path


def best_wall_time(argv: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 objects, one round")
    args = parser.parse_args()
    objects, rounds = (200, 1) if args.quick else (args.objects, args.rounds)
    savkit = [sys.executable, "-m", "savkit"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"generating results.json files of {objects} objects x {args.frames} frames ...", flush=True)
        a = fake_results(root / "a.json", objects, args.frames, 0)
        b = fake_results(root / "b.json", objects, args.frames, 1)
        runs = {
            "savkit report (HTML)": [*savkit, "report", str(a), "--out", str(root / "r.html")],
            "savkit report --format md": [
                *savkit,
                "report",
                str(a),
                "--format",
                "md",
                "--out",
                str(root / "r.md"),
            ],
            "savkit compare (console + HTML)": [
                *savkit,
                "compare",
                str(a),
                str(b),
                "--out",
                str(root / "c.html"),
            ],
        }
        results = {}
        for name, argv in runs.items():
            print(f"  {name} ({rounds} rounds) ...", flush=True)
            results[name] = best_wall_time(argv, rounds)
    print(f"\n{objects} objects, whole processes, best of {rounds}:")
    for name, seconds in results.items():
        print(f"  {name:<34} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
