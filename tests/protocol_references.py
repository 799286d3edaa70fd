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
