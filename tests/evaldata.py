"""Random SA-V-layout and DAVIS-layout evaluation sets with the edge cases the protocols must get right,
and the reference evaluators (vos-benchmark, driven the way the official SA-V evaluator drives it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from vos_benchmark.benchmark import VideoEvaluator
from vos_benchmark.evaluator import Evaluator

EDGE_KINDS = ("empty", "blob", "edge", "full", "pixel", "noise")


def random_mask(rng: np.random.Generator, shape: tuple[int, int], kind: str) -> np.ndarray:
    h, w = shape
    mask = np.zeros(shape, dtype=bool)
    if kind == "blob":
        y, x = rng.integers(0, h), rng.integers(0, w)
        mask[y : y + rng.integers(1, h + 1), x : x + rng.integers(1, w + 1)] = True
        mask &= rng.random(shape) < 0.97
    elif kind == "edge":  # touches the last row and the last column
        mask[rng.integers(0, h) :, rng.integers(0, w) :] = True
    elif kind == "full":
        mask[:] = True
    elif kind == "pixel":
        mask[rng.integers(0, h), rng.integers(0, w)] = True
    elif kind == "noise":
        mask = rng.random(shape) < 0.3
    return mask


def random_sequence(rng: np.random.Generator, shape: tuple[int, int], frames: int) -> list[np.ndarray]:
    """Masks of one object: often absent at first (appears late), sometimes gone for a while."""
    appears = int(rng.integers(0, frames)) if rng.random() < 0.4 else 0
    return [
        random_mask(rng, shape, "empty" if k < appears else str(rng.choice(EDGE_KINDS)))
        for k in range(frames)
    ]


def write_mask(path: Path, array: np.ndarray, mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.ascontiguousarray(array, dtype=np.uint8)
    # Image.fromarray(..., mode="P") remaps values in recent Pillow: build palette images from raw bytes.
    image = Image.frombytes(mode, (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
    if mode == "P":
        image.putpalette(list(range(256)) * 3)
    image.save(path)


def make_sav_set(
    root: Path, seed: int, videos: int = 3, shape=(48, 64), frames: int = 7
) -> tuple[Path, Path]:
    """GT and prediction trees in the SA-V layout (per-object folders of 0/255 PNGs)."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "gt", root / "pred"
    for v in range(videos):
        for obj in range(int(rng.integers(1, 4))):
            gt_seq = random_sequence(rng, shape, frames)
            pred_seq = [_perturb(rng, mask) for mask in gt_seq]
            if not any(m.any() for m in gt_seq[1:-1]):  # the official crashes on a GT empty in every frame
                gt_seq[frames // 2] = random_mask(rng, shape, "blob") | random_mask(rng, shape, "pixel")
            for k, (gt, pred) in enumerate(zip(gt_seq, pred_seq, strict=True)):
                write_mask(gt_root / f"v{v:02d}" / f"{obj:03d}" / f"{4 * k:05d}.png", gt * 255)
                write_mask(pred_root / f"v{v:02d}" / f"{obj:03d}" / f"{4 * k:05d}.png", pred * 255)
    return gt_root, pred_root


def make_davis_set(
    root: Path, seed: int, videos: int = 3, shape=(48, 64), frames: int = 7
) -> tuple[Path, Path]:
    """GT and prediction trees in the DAVIS layout (one label PNG per frame), with ids the GT never has."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "gt", root / "pred"
    for v in range(videos):
        objects = int(rng.integers(1, 4))
        gts = [np.zeros(shape, np.uint8) for _ in range(frames)]
        preds = [np.zeros(shape, np.uint8) for _ in range(frames)]
        for obj in range(1, objects + 1):
            for k, mask in enumerate(random_sequence(rng, shape, frames)):
                gts[k][mask] = obj
                preds[k][_perturb(rng, mask)] = obj
        preds[frames // 2][:2, :3] = objects + 1 + int(rng.integers(0, 3))
        for k in range(frames):
            write_mask(gt_root / f"v{v:02d}" / f"{4 * k:05d}.png", gts[k], mode="P")
            write_mask(pred_root / f"v{v:02d}" / f"{4 * k:05d}.png", preds[k], mode="P")
    return gt_root, pred_root


def _perturb(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    choice = rng.integers(0, 5)
    if choice == 0:
        return mask
    if choice == 1:
        return np.roll(mask, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 2)))
    if choice == 2:
        return np.zeros_like(mask)
    if choice == 3:
        return mask | random_mask(rng, mask.shape, "pixel")
    return mask ^ (rng.random(mask.shape) < 0.05)


def official_sav_scores(gt_root: Path, pred_root: Path, skip_first_and_last: bool = True) -> dict:
    """{(video, object key): (J, F)} as the official SA-V evaluator computes them (vos-benchmark per object)."""
    scores = {}
    for video in sorted(set(os.listdir(gt_root)) & set(os.listdir(pred_root))):
        if not (gt_root / video).is_dir():
            continue
        entries = sorted(os.listdir(gt_root / video))
        if all(name.endswith(".png") for name in entries):
            _, iou, boundary_f = VideoEvaluator(str(gt_root), str(pred_root), skip_first_and_last)(video)
            scores.update({(video, str(int(i))): (iou[i], boundary_f[i]) for i in iou})
            continue
        for obj in entries:
            frames = sorted(os.listdir(gt_root / video / obj))
            frames = frames[1:-1] if skip_first_and_last else frames
            evaluator = Evaluator()
            for frame in frames:
                gt, pred = official_sav_pair(gt_root / video / obj / frame, pred_root / video / obj / frame)
                evaluator.feed_frame(mask=pred, gt=gt)
            iou, boundary_f = evaluator.conclude()
            assert len(iou) == 1
            key = next(iter(iou))
            scores[(video, obj)] = (iou[key], boundary_f[key])
    return scores


def official_sav_pair(gt_path: Path, pred_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A GT/prediction pair of SA-V-layout PNGs read as the official reads them (sam2 ``get_gt_and_pred``): the
    stored samples as Pillow gives them, the same height and width, at most two distinct values, ``> 0``."""
    gt, pred = np.array(Image.open(gt_path)), np.array(Image.open(pred_path))
    assert gt.shape[-2:] == pred.shape[-2:], f"shape mismatch: {gt_path}, {pred_path}"
    assert len(np.unique(gt)) <= 2, f"found more than 1 object in {gt_path}"
    assert len(np.unique(pred)) <= 2, f"found more than 1 object in {pred_path}"
    return gt > 0, pred > 0
