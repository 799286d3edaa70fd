"""A small SA-V-val-like set made from nothing: GT masklets and predictions with realistic errors.

Used by ``savkit demo`` (the main job on a fresh machine, offline) and by tests and benchmarks that need
SA-V-shaped data: ``GT/{video}/{obj:03d}/{frame:05d}.png`` with frames 00000, 00004, ... (6 fps of a 24 fps video),
GT masks as 0/255 grey PNGs and predictions as 0/1 palette PNGs (what SAM 2's ``save_ann_png`` writes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from savkit.io.png import write_png

# Predictions are written as SAM 2's tools write them: 0/1 indices with the first DAVIS colours; GT as 0/255 grey.
PREDICTION_PALETTE = np.array([[0, 0, 0], [128, 0, 0]], dtype=np.uint8)

ERRORS = ("dilate", "erode", "shift", "missed_frames", "false_positive", "drift")


@dataclass(frozen=True)
class DemoSpec:
    videos: int = 4
    annotated_frames: int = 12
    width: int = 848
    height: int = 480
    seed: int = 0
    palette_predictions: bool = True  # False: predictions as 0/255 grey PNGs, like the GT


@dataclass(frozen=True)
class DemoSet:
    gt_root: Path
    pred_root: Path


def make_demo_set(out: str | os.PathLike, spec: DemoSpec = DemoSpec()) -> DemoSet:
    """Write GT and prediction trees under ``out`` (``out/gt``, ``out/pred``) and return their roots."""
    rng = np.random.default_rng(spec.seed)
    root = Path(out)
    gt_root, pred_root = root / "gt", root / "pred"
    for v in range(spec.videos):
        video = f"sav_{v + 1:06d}"
        for obj in range(int(rng.integers(1, 5))):
            track = random_track(rng, spec)
            error = ERRORS[(v + obj) % len(ERRORS)]
            for k in range(spec.annotated_frames):
                name = f"{obj:03d}/{4 * k:05d}.png"
                gt = track_mask(track, k, spec)
                write_png(gt_root / video / name, gt.astype(np.uint8) * 255)
                pred = corrupt(gt, error, k, rng)
                write_prediction(pred_root / video / name, pred, spec.palette_predictions)
    return DemoSet(gt_root, pred_root)


def write_prediction(path: Path, mask: np.ndarray, as_palette: bool) -> None:
    if as_palette:
        write_png(path, mask.astype(np.uint8), palette=PREDICTION_PALETTE)
    else:
        write_png(path, mask.astype(np.uint8) * 255)


def random_track(rng: np.random.Generator, spec: DemoSpec) -> dict[str, float]:
    """An ellipse that moves and breathes; about one object in four appears late (empty GT at first)."""
    return {
        "x": rng.uniform(0.25, 0.75) * spec.width,
        "y": rng.uniform(0.25, 0.75) * spec.height,
        "vx": rng.uniform(-0.01, 0.01) * spec.width,
        "vy": rng.uniform(-0.01, 0.01) * spec.height,
        "a": rng.uniform(0.04, 0.15) * spec.width,
        "b": rng.uniform(0.04, 0.15) * spec.height,
        "angle": rng.uniform(0, 180),
        "appears": int(rng.integers(2, spec.annotated_frames // 2)) if rng.random() < 0.25 else 0,
    }


def track_mask(track: dict[str, float], k: int, spec: DemoSpec) -> np.ndarray:
    mask = np.zeros((spec.height, spec.width), dtype=np.uint8)
    if k < track["appears"]:
        return mask.astype(bool)
    centre = (int(track["x"] + track["vx"] * k), int(track["y"] + track["vy"] * k))
    scale = 1 + 0.1 * np.sin(k / 3)
    axes = (max(int(track["a"] * scale), 2), max(int(track["b"] * scale), 2))
    cv2.ellipse(mask, centre, axes, track["angle"] + 3 * k, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


def corrupt(gt: np.ndarray, error: str, k: int, rng: np.random.Generator) -> np.ndarray:
    """A prediction made from the GT with one kind of realistic error."""
    kernel = np.ones((5, 5), np.uint8)
    if error == "dilate":
        return cv2.dilate(gt.view(np.uint8), kernel, iterations=2).astype(bool)
    if error == "erode":
        return cv2.erode(gt.view(np.uint8), kernel, iterations=2).astype(bool)
    if error == "shift":
        return np.roll(gt, (int(rng.integers(-8, 9)), int(rng.integers(-8, 9))), axis=(0, 1))
    if error == "missed_frames":
        return gt if k % 3 else np.zeros_like(gt)
    if error == "false_positive":
        pred = gt.copy()
        y, x = int(rng.integers(0, gt.shape[0] - 40)), int(rng.integers(0, gt.shape[1] - 40))
        pred[y : y + 30, x : x + 40] = True
        return pred
    return np.roll(gt, 2 * k, axis=1)
