"""Streaming annotated frames (savkit) against decoding the whole video first (the official sav_utils.py).

Generates 1920x1080 24 fps train videos (a moving texture, H.264 veryfast, about 16 KB/frame) with a manual JSON
of 10 masklets (savkit.synthetic), then, each run in a fresh process, pairs every annotated frame (video frame
4k) with its 10 decoded masks:

* savkit: ``Dataset(root).annotated_frames(video_id)``: one frame at a time, only every 4th frame made RGB;
* official: ``sav_utils.decode_video`` (OpenCV, every frame to RGB into a list), ``frames[::4]``, ``json.load``
  and ``pycocotools.mask.decode`` per masklet, as the SA-V visualization notebook does.

Prints annotated frames/s (best of --rounds, methods interleaved) and peak resident memory above the
process's baseline after imports (MB). The official method holds every frame, so it is only run up to
--official-max-seconds (memory grows by W x H x 3 bytes per video frame; the skipped runs show that estimate).

    python benchmarks/bench_video.py [--seconds 10 60] [--rounds 3] [--official-max-seconds 10] [--workdir DIR]
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

WIDTH, HEIGHT, FPS, MASKLETS = 1920, 1080, 24, 10
METHODS = ("savkit", "official")


def video_id(seconds: int) -> str:
    return f"sav_{seconds:06d}"


def make_video(root: Path, seconds: int) -> None:
    """A train folder entry: {id}.mp4 (moving texture) and {id}_manual.json (10 synthetic masklets)."""
    import cv2

    from savkit.io.video import write_video
    from savkit.synthetic import sav_json

    mp4, manual = root / f"{video_id(seconds)}.mp4", root / f"{video_id(seconds)}_manual.json"
    if mp4.is_file() and manual.is_file():
        return
    frame_count = seconds * FPS
    rng = np.random.default_rng(seconds)
    small = rng.integers(0, 256, (HEIGHT // 8 + 8, WIDTH // 8 + 8, 3), dtype=np.uint8)
    texture = cv2.resize(small, (WIDTH + 64, HEIGHT + 64), interpolation=cv2.INTER_LINEAR)

    def frames():
        for i in range(frame_count):
            dy, dx = (3 * i) % 64, (2 * i) % 64
            yield texture[dy : dy + HEIGHT, dx : dx + WIDTH]

    data = sav_json(
        video_id(seconds),
        "manual",
        MASKLETS,
        height=HEIGHT,
        width=WIDTH,
        frame_count=frame_count,
        environment="Indoor",
        seed=seconds,
    )
    manual.write_text(json.dumps(data))
    write_video(mp4, frames(), fps=FPS, crf=23, preset="veryfast")


def consume(rgb: np.ndarray, masks: list[np.ndarray]) -> int:
    """Touch the frame and every mask, as a consumer would (and so that nothing is optimised away)."""
    return int(rgb[::64, ::64].sum()) + sum(int(m.sum()) for m in masks)


def run_savkit(root: Path, vid: str) -> int:
    from savkit.dataset import Dataset

    count = 0
    for _, rgb, masks in Dataset(root).annotated_frames(vid, type="manual"):
        consume(rgb, list(masks.values()))
        count += 1
    return count


def run_official(root: Path, vid: str) -> int:
    """The SA-V sav_utils.py path: decode_video -> frames[::4] -> json.load -> mask_util.decode per masklet."""
    import cv2
    import pycocotools.mask as mask_util

    video = cv2.VideoCapture(str(root / f"{vid}.mp4"))
    video_frames = []
    while video.isOpened():
        ok, frame = video.read()
        if not ok:
            break
        video_frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    frames = video_frames[::4]
    del video_frames
    with open(root / f"{vid}_manual.json") as file:
        annotations = json.load(file)
    for k, rgb in enumerate(frames):
        consume(rgb, [mask_util.decode(rle) > 0 for rle in annotations["masklet"][k]])
    return len(frames)


def resident_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB, from Linux /proc.

    Not ``ru_maxrss``: Linux keeps it across exec, so a child would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(method: str, root: Path, vid: str) -> None:
    """One measured run in this fresh process; prints a JSON line."""
    import cv2  # noqa: F401  (both methods' imports happen before the baseline)
    import pycocotools.mask  # noqa: F401

    import savkit.dataset  # noqa: F401

    baseline = resident_mb("VmRSS")
    start = time.perf_counter()
    frames = (run_savkit if method == "savkit" else run_official)(root, vid)
    seconds = time.perf_counter() - start
    peak = resident_mb("VmHWM")
    print(json.dumps({"frames": frames, "seconds": seconds, "peak_above_baseline_mb": peak - baseline}))


def measure(method: str, root: Path, vid: str) -> dict:
    command = [sys.executable, __file__, "--child", method, str(root), vid]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[10, 60], help="video lengths (10 60)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per method and length; best time kept")
    parser.add_argument("--official-max-seconds", type=int, default=10, help="longest video for the official")
    parser.add_argument("--workdir", type=Path, help="keep the generated videos here (default: a temp dir)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "ROOT", "VIDEO_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2])
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for seconds in args.seconds:
            print(f"generating {seconds} s of {WIDTH}x{HEIGHT} video ...", file=sys.stderr)
            make_video(root, seconds)
        report(root, args)


def report(root: Path, args: argparse.Namespace) -> None:
    frame_mb = WIDTH * HEIGHT * 3 / 2**20
    print(f"{WIDTH}x{HEIGHT} {FPS} fps, {MASKLETS} masklets, best of {args.rounds} runs (fresh process each)")
    print(f"{'video':>6} {'method':>9} {'annotated':>9} {'frames/s':>9} {'peak MB':>9}")
    results: dict[tuple[int, str], dict] = {}
    for seconds in args.seconds:
        methods = [m for m in METHODS if m == "savkit" or seconds <= args.official_max_seconds]
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        for _ in range(args.rounds):
            for method in methods:
                runs[method].append(measure(method, root, video_id(seconds)))
        for method in METHODS:
            if method not in runs:
                estimate = seconds * FPS * frame_mb
                print(
                    f"{seconds:>5}s {method:>9} {'-':>9} {'-':>9} {f'~{estimate:,.0f}':>9}  (not run: estimate)"
                )
                continue
            best = min(runs[method], key=lambda r: r["seconds"])
            best["peak_above_baseline_mb"] = max(r["peak_above_baseline_mb"] for r in runs[method])
            results[(seconds, method)] = best
            fps = best["frames"] / best["seconds"]
            print(
                f"{seconds:>5}s {method:>9} {best['frames']:>9} {fps:>9.1f} {best['peak_above_baseline_mb']:>9.0f}"
            )
    print_ratios(results, args.seconds)


def print_ratios(results: dict[tuple[int, str], dict], lengths: list[int]) -> None:
    for seconds in lengths:
        if (seconds, "official") in results:
            ours, theirs = results[(seconds, "savkit")], results[(seconds, "official")]
            speed = (ours["frames"] / ours["seconds"]) / (theirs["frames"] / theirs["seconds"])
            memory = theirs["peak_above_baseline_mb"] / ours["peak_above_baseline_mb"]
            print(
                f"{seconds} s: savkit is {speed:.2f}x the official's frames/s with {memory:.0f}x less memory"
            )
    shortest, longest = min(lengths), max(lengths)
    if shortest != longest:
        growth = (
            results[(longest, "savkit")]["peak_above_baseline_mb"]
            / results[(shortest, "savkit")]["peak_above_baseline_mb"]
        )
        print(
            f"savkit peak memory {longest} s / {shortest} s: {growth:.2f}x (video {longest / shortest:.0f}x longer)"
        )


if __name__ == "__main__":
    main()
