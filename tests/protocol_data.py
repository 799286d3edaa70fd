"""Generated data for the other benchmarks' protocols (DAVIS-layout label PNGs, MOSEv2 and LVOS meta files),
shared by tests/test_eval_protocols.py and benchmarks/bench_protocols.py."""

from __future__ import annotations

import json

import numpy as np

from evaldata import random_sequence, write_mask
from savkit.demo import ERRORS, DemoSpec, corrupt, random_track, track_mask


def object_masks(rng, shape, frames, realistic=False):
    """(GT, prediction) masks of one object per frame: edge cases for the tests, or (``realistic``) an ellipse that
    moves and breathes with one of the demo's prediction errors, for the benchmark."""
    if not realistic:
        masks = random_sequence(rng, shape, frames)
        shifts = [np.roll(m, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2))) for m in masks]
        return [(m, s & (rng.random(shape) < 0.95)) for m, s in zip(masks, shifts, strict=True)]
    spec = DemoSpec(annotated_frames=max(frames, 6), width=shape[1], height=shape[0])
    track, error = random_track(rng, spec), str(rng.choice(ERRORS))
    gts = [track_mask(track, k, spec) for k in range(frames)]
    return [(gt, corrupt(gt, error, k, rng)) for k, gt in enumerate(gts)]


def make_label_set(
    root, seed, videos=3, shape=(40, 52), frames=9, void=True, extra_ids=True, realistic=False
):
    """DAVIS-layout GT and predictions: objects appearing late and vanishing, void bands along GT boundaries,
    predicted ids the GT never has."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "gt", root / "pred"
    for v in range(videos):
        objects = int(rng.integers(1, 4))
        gts = [np.zeros(shape, np.uint8) for _ in range(frames)]
        preds = [np.zeros(shape, np.uint8) for _ in range(frames)]
        for obj in range(1, objects + 1):
            for k, (mask, predicted) in enumerate(object_masks(rng, shape, frames, realistic)):
                gts[k][mask] = obj
                preds[k][predicted] = obj
        gts[0][rng.integers(0, shape[0]), rng.integers(0, shape[1])] = objects  # N is known from frame 0
        if void:
            for k in range(frames):
                edge = (gts[k] > 0) ^ np.roll(gts[k] > 0, 1, axis=1)
                gts[k][edge & (rng.random(shape) < 0.7)] = 255
        if extra_ids:
            preds[frames // 2][:2, :3] = objects + 1 + int(rng.integers(0, 3))
        for k in range(frames):
            write_mask(gt_root / f"v{v:02d}" / f"{k:05d}.png", gts[k], mode="P")
            write_mask(pred_root / f"v{v:02d}" / f"{k:05d}.png", preds[k], mode="P")
    return gt_root, pred_root


def make_mose_set(root, seed, shape=(120, 160), frames=10, realistic=False):
    """MOSEv2-like data: objects small enough for the adaptive tolerance and large ones at the cap, objects that
    vanish and come back, a video without predictions, meta objects as a list and as a mapping."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "gt", root / "pred"
    meta = {"videos": {}}
    for v in range(3):
        video = f"m{v}"
        ids = [1, 2, 4][: int(rng.integers(1, 4))]
        gts = [np.zeros(shape, np.uint8) for _ in range(frames)]
        preds = [np.zeros(shape, np.uint8) for _ in range(frames)]
        for obj in ids:
            if realistic:
                for k, (mask, predicted) in enumerate(object_masks(rng, shape, frames, True)):
                    gts[k][mask], preds[k][predicted] = obj, obj
                continue
            for k in range(frames):
                if rng.random() < 0.3:
                    continue  # gone in this frame: disappear / reappear segments
                size = int(rng.choice([3, 6, 40]))  # areas under and over the adaptive cap
                y, x = int(rng.integers(0, shape[0] - size)), int(rng.integers(0, shape[1] - size))
                gts[k][y : y + size, x : x + size] = obj
                dy, dx = rng.integers(-2, 3, size=2)
                preds[k][max(y + dy, 0) : y + dy + size, max(x + dx, 0) : x + dx + size] = obj
        objects = [str(i) for i in ids] if v % 2 else {str(i): {"category": "x"} for i in ids}
        meta["videos"][video] = {"length": frames, "objects": objects}
        for k in range(frames):
            write_mask(gt_root / video / f"{k:05d}.png", gts[k], mode="P")
            if v < 2:
                write_mask(pred_root / video / f"{k:05d}.png", preds[k], mode="P")
    (root / "meta.json").write_text(json.dumps(meta))
    return gt_root, pred_root, meta


def make_lvos_set(root, seed, shape=(36, 44), realistic=False, object_frames=None):
    """LVOS-like data: objects on their own frame ranges (every 5th frame), one range shorter than its frame_nums.
    ``object_frames``: about how many frames each object has (default 3 to 8)."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "Annotations", root / "pred"
    meta = {"videos": {}}
    for v in range(4):
        video = f"lv{v}"
        objects = {}
        canvas_gt, canvas_pred = {}, {}
        for obj in (1, 3)[: int(rng.integers(1, 3))]:
            start = int(rng.integers(0, 4)) * 5
            count = int(rng.integers(3, 9))
            if object_frames is not None:
                count = max(3, object_frames - count % 3)
            frames = count - (1 if obj == 3 and v == 1 else 0)  # one range shorter than frame_nums
            objects[str(obj)] = {
                "frame_range": {"start": start, "end": start + 5 * frames, "frame_nums": count}
            }
            for k, (mask, predicted) in enumerate(object_masks(rng, shape, frames, realistic)):
                name = f"{start + 5 * k:08d}.png"
                canvas_gt.setdefault(name, np.zeros(shape, np.uint8))[mask] = obj
                canvas_pred.setdefault(name, np.zeros(shape, np.uint8))[predicted] = obj
        for name in canvas_gt:
            write_mask(gt_root / video / name, canvas_gt[name], mode="P")
            write_mask(pred_root / video / name, canvas_pred[name], mode="P")
        meta["videos"][video] = {"objects": objects}
    (root / "valid_meta.json").write_text(json.dumps(meta))
    (root / "unseen_videos.txt").write_text("lv1\nlv3\n")
    return root, pred_root, meta
