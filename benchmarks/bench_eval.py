"""savkit eval against the official SA-V evaluator's algorithm, vos-benchmark, and plain PNG decoding.

Generates SA-V-like data (savkit.demo) at 848x480 and 1920x1080, checks that every evaluator gives the same numbers,
and prints milliseconds per object-frame (best of --rounds, the methods interleaved so that machine noise hits all
of them alike) and the ratios. Then the same masks (GT and predictions alike) are written in each encoding of
benchmarks/bench_png.py (0/255 grey by Pillow, which gives the demo's slanted edges Paeth rows, and by OpenCV; 0/1
palette with 8-bit and 4-bit samples) and savkit's whole eval is timed against pyspng decoding the pair. Needs the
test extras (vos-benchmark, scikit-image):

    python benchmarks/bench_eval.py [--videos 4] [--frames 20] [--rounds 3] [--grey-predictions] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pyspng
from PIL import Image
from vos_benchmark.benchmark import VideoEvaluator
from vos_benchmark.evaluator import Evaluator

from savkit.demo import DemoSpec, make_demo_set
from savkit.eval import EvalOptions, evaluate
from savkit.eval.discover import plan_evaluation
from savkit.io.png import read_png, write_png
from timing import best_times

SIZES = ((848, 480), (1920, 1080))
PALETTE_8BIT = np.zeros((256, 3), np.uint8)
PALETTE_4BIT = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]], np.uint8)


def write_pillow(path: Path, mask: np.ndarray, palette: np.ndarray | None) -> None:
    image = Image.fromarray(
        mask * np.uint8(255 if palette is None else 1), mode="L" if palette is None else "P"
    )
    if palette is not None:
        image.putpalette(palette.ravel().tolist())
    image.save(path, format="PNG")


ENCODINGS = {
    "grey, Pillow": lambda path, mask: write_pillow(path, mask, None),
    "grey, OpenCV": lambda path, mask: cv2.imwrite(str(path), mask * np.uint8(255)),
    "palette 8-bit": lambda path, mask: write_pillow(path, mask, PALETTE_8BIT),
    "palette 4-bit": lambda path, mask: write_pillow(path, mask, PALETTE_4BIT),
}


def official_sav(gt_root: Path, pred_root: Path) -> dict:
    """The official sav_evaluator.py algorithm: PIL decode, its np.unique checks, vos-benchmark's Evaluator."""
    scores = {}
    for video in sorted(os.listdir(gt_root)):
        for obj in sorted(os.listdir(gt_root / video)):
            evaluator = Evaluator()
            for frame in sorted(os.listdir(gt_root / video / obj))[1:-1]:
                gt = np.array(Image.open(gt_root / video / obj / frame))
                pred = np.array(Image.open(pred_root / video / obj / frame))
                assert len(np.unique(gt)) <= 2 and len(np.unique(pred)) <= 2
                evaluator.feed_frame(mask=pred > 0, gt=gt > 0)
            iou, boundary_f = evaluator.conclude()
            key = next(iter(iou))
            scores[(video, obj)] = (iou[key], boundary_f[key])
    return scores


def vos_benchmark_davis(gt_root: Path, pred_root: Path) -> dict:
    scores = {}
    for video in sorted(os.listdir(gt_root)):
        _, iou, boundary_f = VideoEvaluator(str(gt_root), str(pred_root))(video)
        scores.update({(video, str(i)): (iou[i], boundary_f[i]) for i in iou})
    return scores


def savkit_scores(gt_root: Path, pred_root: Path) -> dict:
    report = evaluate(gt_root, pred_root, EvalOptions(num_processes=1))
    return {(o.video, o.object): (o.stats["J"], o.stats["F"]) for o in report.objects}


def to_davis_layout(sav_root: Path, out: Path) -> None:
    """Merge per-object masks into one label PNG per frame (later objects on top)."""
    for video in sorted(os.listdir(sav_root)):
        frames = sorted(os.listdir(sav_root / video / "000"))
        for frame in frames:
            labels = None
            for index, obj in enumerate(sorted(os.listdir(sav_root / video))):
                mask = read_png(sav_root / video / obj / frame) > 0
                labels = np.zeros(mask.shape, np.uint8) if labels is None else labels
                labels[mask] = index + 1
            write_png(out / video / frame, labels, palette=np.zeros((256, 3), np.uint8))


def decode_pairs(gt_root: Path, pred_root: Path, decode) -> int:
    pairs = 0
    for task in plan_evaluation(gt_root, pred_root, strict=True, skip_first_and_last=True).tasks:
        for frame in task.frames:
            decode((task.gt_dir / frame).read_bytes())
            decode((task.pred_dir / frame).read_bytes())
            pairs += 1
    return pairs


def assert_same(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys(), what
    worst = max(abs(x - y) for key in a for x, y in zip(a[key], b[key], strict=True))
    assert worst < 1e-9, f"{what}: differ by {worst}"


def bench_size(root: Path, width: int, height: int, args: argparse.Namespace) -> None:
    spec = DemoSpec(
        videos=args.videos,
        annotated_frames=args.frames,
        width=width,
        height=height,
        palette_predictions=not args.grey_predictions,
    )
    demo = make_demo_set(root, spec)
    davis_gt, davis_pred = root / "davis_gt", root / "davis_pred"
    to_davis_layout(demo.gt_root, davis_gt)
    to_davis_layout(demo.pred_root, davis_pred)
    assert_same(
        savkit_scores(demo.gt_root, demo.pred_root), official_sav(demo.gt_root, demo.pred_root), "official"
    )
    assert_same(
        savkit_scores(davis_gt, davis_pred), vos_benchmark_davis(davis_gt, davis_pred), "vos-benchmark"
    )
    plan = plan_evaluation(demo.gt_root, demo.pred_root, strict=True, skip_first_and_last=True)
    object_frames = sum(len(task.frames) for task in plan.tasks)
    davis_frames = sum(
        len(task.frames)
        for task in plan_evaluation(davis_gt, davis_pred, strict=True, skip_first_and_last=True).tasks
    )
    times = best_times(
        {
            "savkit eval": lambda: savkit_scores(demo.gt_root, demo.pred_root),
            "official algorithm": lambda: official_sav(demo.gt_root, demo.pred_root),
            "pyspng pair decode": lambda: decode_pairs(demo.gt_root, demo.pred_root, pyspng.load),
            "savkit pair decode": lambda: decode_pairs(demo.gt_root, demo.pred_root, read_png_bytes),
            "savkit eval (DAVIS layout)": lambda: savkit_scores(davis_gt, davis_pred),
            "vos-benchmark (DAVIS layout)": lambda: vos_benchmark_davis(davis_gt, davis_pred),
        },
        args.rounds,
    )
    per = {
        name: seconds / (davis_frames if "DAVIS" in name else object_frames) * 1e3
        for name, seconds in times.items()
    }
    print(
        f"\n{width}x{height}: {object_frames} object-frames (SA-V layout), {davis_frames} frames (DAVIS layout), numbers identical"
    )
    for name, ms in per.items():
        print(f"  {name:30s} {ms:8.3f} ms")
    print(f"  official / savkit             {per['official algorithm'] / per['savkit eval']:8.1f}x")
    print(f"  pyspng pair decode / savkit   {per['pyspng pair decode'] / per['savkit eval']:8.2f}x")
    print(f"  pyspng / savkit pair decode   {per['pyspng pair decode'] / per['savkit pair decode']:8.2f}x")
    print(
        f"  vos-benchmark / savkit (DAVIS){per['vos-benchmark (DAVIS layout)'] / per['savkit eval (DAVIS layout)']:8.1f}x (per frame)"
    )
    bench_encodings(root, args.rounds)


def reencode(src: Path, dst: Path, write) -> None:
    """Every per-object mask under ``src`` written again under ``dst`` with ``write(path, 0/1 mask)``."""
    for path in sorted(src.rglob("*.png")):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target, (read_png(path) > 0).astype(np.uint8))


def bench_encodings(root: Path, rounds: int) -> None:
    """savkit's whole eval against pyspng's pair decode, GT and predictions in each encoding."""
    gt_root, pred_root = root / "gt", root / "pred"
    reference = savkit_scores(gt_root, pred_root)
    plan = plan_evaluation(gt_root, pred_root, strict=True, skip_first_and_last=True)
    object_frames = sum(len(task.frames) for task in plan.tasks)
    methods = {}
    for encoding, write in ENCODINGS.items():
        folder = root / encoding.replace(" ", "_").replace(",", "")
        reencode(gt_root, folder / "gt", write)
        reencode(pred_root, folder / "pred", write)
        assert_same(savkit_scores(folder / "gt", folder / "pred"), reference, encoding)
        methods[f"{encoding}: savkit eval"] = partial(savkit_scores, folder / "gt", folder / "pred")
        methods[f"{encoding}: pyspng pair"] = partial(
            decode_pairs, folder / "gt", folder / "pred", pyspng.load
        )
    print(f"  by encoding (GT and predictions alike), best of {rounds} interleaved rounds ...", flush=True)
    times = best_times(methods, rounds)
    for encoding in ENCODINGS:
        eval_ms = times[f"{encoding}: savkit eval"] / object_frames * 1e3
        decode_ms = times[f"{encoding}: pyspng pair"] / object_frames * 1e3
        print(
            f"  {encoding:14s} savkit eval {eval_ms:7.3f} ms, pyspng pair decode {decode_ms:7.3f} ms: "
            f"eval {decode_ms / eval_ms:5.2f}x faster than the decode alone"
        )


def read_png_bytes(data: bytes) -> np.ndarray:
    from savkit.io.png import decode_png

    return decode_png(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=20, help="annotated frames per video")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--grey-predictions",
        action="store_true",
        help="predictions as 0/255 grey PNGs (default: 0/1 palette, as SAM 2)",
    )
    parser.add_argument("--quick", action="store_true", help="a quick look: 2 videos, 8 frames, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.videos, args.frames, args.rounds = 2, 8, 1
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            print(f"{width}x{height}: generating and checking ...", flush=True)
            bench_size(Path(tmp) / f"{width}x{height}", width, height, args)


if __name__ == "__main__":
    main()
