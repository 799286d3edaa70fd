"""The reference evaluators of the other benchmarks, reimplemented from their code's behaviour, on full frames.

Each function follows the reference's own data flow (whole-frame arrays, its J and F functions, its statistics),
written independently of savkit so that the parity tests compare two separate computations:

* ``vost_reference``: TRI-ML/VOST ``evaluation/source`` (J and J over the last quarter).
* ``davis_unsupervised_reference``: davis2017-evaluation, task ``unsupervised`` (void mask, Hungarian matching).
* ``mosev2_reference``: MOSE-api ``MOSEv2`` ``metricsv2.py`` / ``score.py`` (J+1 rule, adaptive F, disappear /
  reappear segments).
* ``lvos_reference``: lvos-evaluation ``lvos/`` (frame ranges, seen / unseen, V), Python boundary path.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment
from skimage.morphology import disk


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    seg = seg.astype(bool)
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def f_with_radius(fg: np.ndarray, gt: np.ndarray, bound_pix: float) -> float:
    fg_b, gt_b = seg2bmap(fg).astype(np.uint8), seg2bmap(gt).astype(np.uint8)
    kernel = disk(bound_pix).astype(np.uint8)
    fg_dil, gt_dil = cv2.dilate(fg_b, kernel), cv2.dilate(gt_b, kernel)
    n_fg, n_gt = fg_b.sum(), gt_b.sum()
    if n_fg == 0 and n_gt > 0:
        precision, rec = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, rec = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, rec = 1, 1
    else:
        precision, rec = np.sum(fg_b * gt_dil) / float(n_fg), np.sum(gt_b * fg_dil) / float(n_gt)
    return 0 if precision + rec == 0 else 2 * precision * rec / (precision + rec)


def davis_f(fg: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    void = np.zeros(fg.shape, bool) if void is None else void
    return f_with_radius(fg & ~void, gt & ~void, np.ceil(0.008 * np.linalg.norm(fg.shape)))


def davis_j(gt: np.ndarray, fg: np.ndarray, void: np.ndarray | None = None) -> float:
    void = np.zeros(fg.shape, bool) if void is None else void
    inters = np.sum((fg & gt) & ~void)
    union = np.sum((fg | gt) & ~void)
    return 1.0 if np.isclose(union, 0) else inters / union


def db_statistics(values) -> tuple[float, float, float]:
    """Mean, recall and decay; the decay bins as integers (the reference's uint8 breaks from 256 frames on)."""
    values = np.asarray(values, dtype=float)
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.int64)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    return np.nanmean(values), np.nanmean(values > 0.5), np.nanmean(bins[0]) - np.nanmean(bins[3])


def read_labels(path: Path) -> np.ndarray:
    return np.array(Image.open(path))


def _separate(masks: np.ndarray, count: int) -> np.ndarray:
    return np.stack([masks == i for i in range(1, count + 1)]) if count else np.zeros((0, *masks.shape), bool)


def vost_reference(gt_root: Path, pred_root: Path) -> dict:
    """{(video, object): (J mean, J_tr mean)} as VOST's evaluation computes them."""
    out = {}
    for seq in sorted(os.listdir(gt_root)):
        names = sorted(n for n in os.listdir(gt_root / seq) if n.endswith(".png"))
        masks = np.stack([read_labels(gt_root / seq / n) for n in names]).astype(float)
        masks[masks == 255] = 0
        n_objects = int(np.max(masks[0]))
        gt_all = _separate(masks, n_objects)[:, 1:-1]
        eval_names = names[1:-1]
        res = np.stack([read_labels(pred_root / seq / n) for n in eval_names]).astype(float)
        res_all = _separate(res, int(np.max(res)))
        if res_all.shape[0] > n_objects:
            res_all = res_all[:n_objects]
        elif res_all.shape[0] < n_objects:
            pad = np.zeros((n_objects - res_all.shape[0], *res_all.shape[1:]), bool)
            res_all = np.concatenate([res_all, pad])
        last_quarter = int(math.floor(len(eval_names) * 0.75))
        for ii in range(n_objects):
            js = np.array([davis_j(g, p) for g, p in zip(gt_all[ii], res_all[ii], strict=True)])
            out[(seq, str(ii + 1))] = (np.nanmean(js), np.nanmean(js[last_quarter:]))
    return out


def davis_unsupervised_reference(gt_root: Path, pred_root: Path) -> dict:
    """{(video, GT object matched): (J stats, F stats)} of davis2017-evaluation's unsupervised task."""
    out = {}
    for seq in sorted(os.listdir(gt_root)):
        names = sorted(n for n in os.listdir(gt_root / seq) if n.endswith(".png"))
        masks = np.stack([read_labels(gt_root / seq / n) for n in names]).astype(float)
        voids = masks == 255
        masks[voids] = 0
        n_objects = int(np.max(masks[0]))
        gt_all = _separate(masks, n_objects)
        res = np.stack([read_labels(pred_root / seq / n) for n in names]).astype(float)
        res_all = _separate(res, int(np.max(res)))
        assert res_all.shape[0] <= 20
        if res_all.shape[0] < n_objects:
            pad = np.zeros((n_objects - res_all.shape[0], *res_all.shape[1:]), bool)
            res_all = np.concatenate([res_all, pad])
        frames = len(names)
        j_all = np.zeros((res_all.shape[0], n_objects, frames))
        f_all = np.zeros((res_all.shape[0], n_objects, frames))
        for ii in range(n_objects):
            for jj in range(res_all.shape[0]):
                for t in range(frames):
                    j_all[jj, ii, t] = davis_j(gt_all[ii, t], res_all[jj, t], voids[t])
                    f_all[jj, ii, t] = davis_f(res_all[jj, t], gt_all[ii, t], voids[t])
        rows, cols = linear_sum_assignment(-((np.mean(j_all, axis=2) + np.mean(f_all, axis=2)) / 2))
        for row, col in zip(rows, cols, strict=True):
            out[(seq, str(col + 1))] = (*db_statistics(j_all[row, col]), *db_statistics(f_all[row, col]))
    return out


def mose_iou(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """metricsv2's db_eval_iou on stacked frames: (I + 1) / (U + 1), clipped, 1 for an empty union."""
    inters = np.sum(np.logical_and(pred, gt), axis=(-2, -1))
    union = np.sum(np.logical_or(pred, gt), axis=(-2, -1))
    j = np.clip((inters + 1) / (union + 1), 0, 1)
    j[np.isclose(union, 0)] = 1
    return j, np.sum(gt, axis=(-2, -1)) == 0


def mose_f_adaptive(fg: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """metricsv2's f_measure_adaptive in the 'area' mode with bound_th = 0.1: (classic F, adaptive F)."""
    cap = 0.008 * np.linalg.norm(fg.shape)
    if np.any(gt):
        bound_pix = np.ceil(0.1 * np.sqrt(np.sum(gt > 0)))
    else:
        bound_pix = np.ceil(0.1 * np.linalg.norm(fg.shape))
    bound_pix = min(cap, bound_pix)
    if bound_pix < cap:
        return f_with_radius(fg, gt, np.ceil(cap)), f_with_radius(fg, gt, bound_pix)
    f = f_with_radius(fg, gt, cap)
    return f, f


def _mose_segments(j_list, f_list, empty_gt):
    disappear_frames = np.where(~empty_gt[:-1] & empty_gt[1:])[0] + 1
    if empty_gt[0] == 1:
        disappear_frames = np.insert(disappear_frames, 0, 0)
    reappear_frames = np.where(empty_gt[:-1] & ~empty_gt[1:])[0] + 1
    disappear, reappear = None, None
    segments = []
    for i, start in enumerate(disappear_frames):
        end = reappear_frames[i] if i < len(reappear_frames) else len(empty_gt)
        if start > 0:
            segments.append((j_list[start:end].mean(), f_list[start:end].mean()))
    if segments:
        disappear = (np.mean([s[0] for s in segments]), np.mean([s[1] for s in segments]))
    segments = []
    for i, start in enumerate(reappear_frames):
        end = disappear_frames[i + 1] if i + 1 < len(disappear_frames) else len(empty_gt)
        segments.append((j_list[start:end].mean(), f_list[start:end].mean()))
    if segments:
        reappear = (np.mean([s[0] for s in segments]), np.mean([s[1] for s in segments]))
    return disappear, reappear


def mosev2_reference(gt_root: Path, pred_root: Path, meta: dict) -> dict:
    """{(video, object): (J, F_adaptive, F, disappear (J, F) or None, reappear (J, F) or None)}, as score.py."""
    out = {}
    for vid in os.listdir(gt_root):
        info = meta["videos"][vid]
        length = info["length"]
        assert length == len(os.listdir(gt_root / vid))
        for anno_id in info["objects"]:
            if not (pred_root / vid).exists():
                out[(vid, str(anno_id))] = (0, 0, 0, None, None)
                continue
            names = sorted(
                (x for x in os.listdir(pred_root / vid) if not x.startswith(".") and x.endswith(".png")),
                key=lambda x: int(x.split(".")[0]),
            )
            frames = [names[k].split(".")[0] for k in range(1, length - 1)]
            if not frames:
                out[(vid, str(anno_id))] = (0, 0, 0, None, None)
                continue
            gts = np.stack([read_labels(gt_root / vid / f"{n}.png") for n in frames])
            preds = np.stack([read_labels(pred_root / vid / f"{n}.png") for n in frames])
            gt_masks = (gts == int(anno_id)).astype("uint8")
            pred_masks = (preds == int(anno_id)).astype("uint8")
            j_list, empty_gt = mose_iou(gt_masks, pred_masks)
            pairs = [mose_f_adaptive(p, g) for p, g in zip(pred_masks, gt_masks, strict=True)]
            f_classic = np.array([p[0] for p in pairs])
            f_adaptive = np.array([p[1] for p in pairs])
            disappear, reappear = _mose_segments(j_list, f_adaptive, empty_gt.astype(bool))
            out[(vid, str(anno_id))] = (
                j_list.mean(),
                f_adaptive.mean(),
                f_classic.mean(),
                disappear,
                reappear,
            )
    return out


def lvos_reference(gt_root: Path, pred_root: Path, meta: dict, unseen: set[str]) -> tuple[dict, dict]:
    """Per object {(video, position): (J, F, V)} and the global scores, as lvos-evaluation computes them."""
    per_object, groups = {}, {"seen": [], "unseen": []}
    for seq in sorted(meta["videos"]):
        objs = list(meta["videos"][seq]["objects"].keys())
        for position, obj in enumerate(objs, start=1):
            frame_range = meta["videos"][seq]["objects"][obj]["frame_range"]
            count = int(frame_range["frame_nums"])
            j_res, f_res = np.zeros((1, count - 2)), np.zeros((1, count - 2))
            oidx = 0
            for ii in range(int(frame_range["start"]), int(frame_range["end"]), 5):
                if oidx == 0 or oidx == count - 1:
                    oidx += 1
                    continue
                name = f"{ii:08d}.png"
                gt = read_labels(gt_root / seq / name) == int(obj)
                pred = read_labels(pred_root / seq / name) == int(obj)
                j_res[0, oidx - 1] = davis_j(gt, pred)
                f_res[0, oidx - 1] = davis_f(pred, gt)
                oidx += 1
            jm, fm = np.nanmean(j_res), np.nanmean(f_res)
            jf = (j_res + f_res) / 2
            variance = np.nansum((np.nanmean(jf) - jf) ** 2) / jf.shape[1]
            v = math.sqrt(round(variance, 4))
            per_object[(seq, str(position))] = (jm, fm, v)
            groups["unseen" if seq in unseen else "seen"].append((jm, fm, v))
    mean = {g: np.mean(np.array(values), axis=0) for g, values in groups.items()}
    global_scores = {
        "J&F": ((mean["seen"][0] + mean["seen"][1]) + (mean["unseen"][0] + mean["unseen"][1])) / 4.0,
        "J_seen": mean["seen"][0],
        "J_unseen": mean["unseen"][0],
        "F_seen": mean["seen"][1],
        "F_unseen": mean["unseen"][1],
        "V": (mean["seen"][2] + mean["unseen"][2]) / 2,
    }
    return per_object, global_scores
