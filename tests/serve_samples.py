"""Generated data for the ``savkit serve`` tests: a tiny train folder whose masks sit at known places, a tiny
val folder, and two evaluation runs on it (results.json as ``savkit eval`` writes it, beside its predictions)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from savkit.annotations import Masklet, VideoAnnotations, recompute_metadata, rle, write_sav_json
from savkit.eval import EvalOptions, evaluate
from savkit.io.png import read_png, write_png
from savkit.io.video import write_video
from savkit.synthetic import write_valtest_videos

HEIGHT, WIDTH, FRAMES = 96, 160, 17  # 17 video frames: 5 annotated frames (0, 4, 8, 12, 16)
ANNOTATED = 5
GREY = 100
# masklet id -> (rows, columns, annotated frames where it is visible)
MANUAL_BOXES = {
    0: (slice(20, 60), slice(20, 70), range(5)),
    1: (slice(50, 85), slice(100, 150), (0, 1, 3, 4)),
}
AUTO_BOXES = {0: (slice(5, 25), slice(110, 150), range(5)), 1: (slice(60, 90), slice(10, 40), (2, 3))}
TRAIN_VIDEOS = {  # video id -> (environment, with an mp4, manual boxes, auto boxes)
    "sav_000001": ("Indoor", True, MANUAL_BOXES, AUTO_BOXES),
    "sav_000002": ("Outdoor", False, {0: MANUAL_BOXES[0]}, {}),
    "sav_000003": ("Outdoor", True, MANUAL_BOXES, {0: AUTO_BOXES[0]}),
}
VAL_VIDEOS = ["sav_100001", "sav_100002"]


def box_mask(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[rows, cols] = True
    return mask


def _masklet(masklet_id: int, masklet_type: str, box: tuple) -> Masklet:
    rows, cols, visible = box
    masks = [
        box_mask(rows, cols) if k in visible else np.zeros((HEIGHT, WIDTH), bool) for k in range(ANNOTATED)
    ]
    rles = [rle.encode(m) for m in masks]
    metadata = recompute_metadata(rles, masklet_type, HEIGHT * WIDTH)
    scores = [0.9 + 0.01 * k for k in range(ANNOTATED)] if masklet_type == "auto" else None
    return Masklet(
        masklet_id, masklet_type, rles, edited_frame_count=0, stability_score=scores, **vars(metadata)
    )


def make_train(root: Path) -> Path:
    """A train folder (videos one level down, as the tar files unpack) with grey mp4s and box masklets."""
    folder = root / "sav_000"
    for video_id, (environment, with_mp4, manual, auto) in TRAIN_VIDEOS.items():
        masklets = [_masklet(i, "manual", box) for i, box in manual.items()]
        masklets += [_masklet(i, "auto", box) for i, box in auto.items()]
        video = VideoAnnotations(video_id, "train", FRAMES / 24, FRAMES, HEIGHT, WIDTH, environment, masklets)
        write_sav_json(folder / f"{video_id}_manual.json", video, "manual")
        if auto:
            write_sav_json(folder / f"{video_id}_auto.json", video, "auto")
        if with_mp4:
            frames = (np.full((HEIGHT, WIDTH, 3), GREY, np.uint8) for _ in range(FRAMES))
            write_video(folder / f"{video_id}.mp4", frames, fps=24, crf=10, preset="veryfast")
    return root


def make_val_with_runs(root: Path) -> tuple[Path, Path, Path]:
    """A val split (2 videos x 2 objects, 5 annotated frames) and two runs: (split, run_a json, run_b json).

    Run ``perfect`` predicts the GT; run ``degraded`` loses object 001's mask on its middle frames.
    """
    split = root / "sav_val"
    write_valtest_videos(split, VAL_VIDEOS, num_objects=2, num_frames=ANNOTATED, height=48, width=64, seed=3)
    gt = split / "Annotations_6fps"
    results = []
    for name in ("perfect", "degraded"):
        pred = root / name
        shutil.copytree(gt, pred)
        if name == "degraded":
            for video in VAL_VIDEOS:
                for frame in ("00004", "00008"):
                    path = pred / video / "001" / f"{frame}.png"
                    write_png(path, np.zeros_like(read_png(path)))
        report = evaluate(gt, pred, EvalOptions(num_processes=1))
        (pred / "results.json").write_text(report.json_text())
        results.append(pred / "results.json")
    return split, results[0], results[1]
