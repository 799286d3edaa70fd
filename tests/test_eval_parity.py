"""Folder-level parity: savkit eval against the official algorithm (vos-benchmark) and an independent
full-frame davis2017 reference, on random sets full of edge cases, in both layouts."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from skimage.morphology import disk
from vos_benchmark.benchmark import benchmark as vos_benchmark
from vos_benchmark.utils import _seg2bmap

from evaldata import make_davis_set, make_sav_set, official_sav_scores, write_mask
from savkit.cli import main
from savkit.eval import EvalOptions, evaluate


def _by_key(report):
    return {(obj.video, obj.object): (obj.stats["J"], obj.stats["F"]) for obj in report.objects}


def _assert_same_scores(ours: dict, reference: dict):
    assert ours.keys() == reference.keys()
    for key, (j, f) in reference.items():
        assert ours[key][0] == pytest.approx(j, abs=1e-9), key
        assert ours[key][1] == pytest.approx(f, abs=1e-9), key


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("skip", [True, False])
def test_sav_layout_matches_official(tmp_path, seed, skip):
    gt, pred = make_sav_set(tmp_path, seed, shape=[(48, 64), (31, 17), (120, 90), (2, 3)][seed])
    report = evaluate(gt, pred, EvalOptions(skip_first_and_last=skip))
    _assert_same_scores(_by_key(report), official_sav_scores(gt, pred, skip))
    objects = [(obj.stats["J"], obj.stats["F"]) for obj in report.objects]
    assert report.global_scores["J"] == pytest.approx(np.mean([j for j, _ in objects]), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_davis_layout_matches_vos_benchmark(tmp_path, seed):
    gt, pred = make_davis_set(tmp_path, seed)
    report = evaluate(gt, pred, EvalOptions())
    _assert_same_scores(_by_key(report), official_sav_scores(gt, pred))


def test_results_csv_is_byte_identical_to_vos_benchmark(tmp_path):
    gt, pred = make_davis_set(tmp_path, seed=7, videos=4)
    reference_pred = tmp_path / "reference_pred"
    shutil.copytree(pred, reference_pred)
    vos_benchmark([str(gt)], [str(reference_pred)], strict=True, num_processes=1, verbose=False)
    assert main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "-q", "-n", "1"]) == 0
    assert (pred / "results.csv").read_text() == (reference_pred / "results.csv").read_text()


def test_parallel_run_equals_serial_run(tmp_path):
    gt, pred = make_sav_set(tmp_path, seed=3, videos=5)
    serial = evaluate(gt, pred, EvalOptions(num_processes=1))
    parallel = evaluate(gt, pred, EvalOptions(num_processes=2))
    assert [o.to_json() for o in serial.objects] == [o.to_json() for o in parallel.objects]


def _davis_reference(gt_root, pred_root, skip=True):
    """davis2017-evaluation's semi-supervised statistics, written independently on full frames."""

    def f_measure(fg, gt, void):
        fg_b, gt_b = _seg2bmap(fg & ~void), _seg2bmap(gt & ~void)
        kernel = disk(np.ceil(0.008 * np.linalg.norm(fg.shape))).astype(np.uint8)
        import cv2

        fg_dil, gt_dil = cv2.dilate(fg_b.astype(np.uint8), kernel), cv2.dilate(gt_b.astype(np.uint8), kernel)
        n_fg, n_gt = fg_b.sum(), gt_b.sum()
        if n_fg == 0 and n_gt > 0:
            p, r = 1, 0
        elif n_fg > 0 and n_gt == 0:
            p, r = 0, 1
        elif n_fg == 0 and n_gt == 0:
            p, r = 1, 1
        else:
            p, r = (fg_b * gt_dil).sum() / n_fg, (gt_b * fg_dil).sum() / n_gt
        return 0 if p + r == 0 else 2 * p * r / (p + r)

    def stats(values):
        values = np.array(values)
        ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(int)
        bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
        return values.mean(), (values > 0.5).mean(), np.mean(bins[0]) - np.mean(bins[3])

    out = {}
    for video in sorted(os.listdir(gt_root)):
        names = sorted(os.listdir(gt_root / video))
        gts = np.stack([np.array(Image.open(gt_root / video / n)) for n in names])
        preds = np.stack([np.array(Image.open(pred_root / video / n)) for n in names])
        first = np.where(gts[0] == 255, 0, gts[0])
        if skip:
            gts, preds = gts[1:-1], preds[1:-1]
        voids = gts == 255
        for obj in range(1, int(first.max()) + 1):
            js, fs = [], []
            for gt, pred, void in zip(gts, preds, voids, strict=True):
                g, p = (gt == obj) & ~void, (pred == obj) & ~void
                union = (g | p).sum()
                js.append(1.0 if np.isclose(union, 0) else (g & p).sum() / union)
                fs.append(f_measure(p, g, void))
            out[(video, str(obj))] = (*stats(js), *stats(fs))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_davis2017_protocol_matches_reference(tmp_path, seed):
    gt, pred = make_davis_set(tmp_path, seed, frames=9)
    # add void pixels to the GT
    for path in sorted((gt / "v00").iterdir())[1:3]:
        labels = np.array(Image.open(path))
        labels[-3:, :5] = 255
        write_mask(path, labels, mode="P")
    report = evaluate(gt, pred, EvalOptions(protocol="davis2017"))
    reference = _davis_reference(gt, pred)
    ours = {
        (o.video, o.object): tuple(
            o.stats[k] / 100 for k in ("J", "J_recall", "J_decay", "F", "F_recall", "F_decay")
        )
        for o in report.objects
    }
    assert ours.keys() == reference.keys()
    for key, values in reference.items():
        assert ours[key] == pytest.approx(values, abs=1e-9), key


def test_davis2017_on_sav_layout_scores_every_frame(tmp_path):
    gt, pred = make_sav_set(tmp_path, seed=1)
    sav = evaluate(gt, pred, EvalOptions(protocol="sav"))
    davis = evaluate(gt, pred, EvalOptions(protocol="davis2017"))
    for a, b in zip(sav.objects, davis.objects, strict=True):
        assert len(b.frames.frames) == 5  # 7 annotated frames minus first and last
        assert len(a.frames.frames) <= len(b.frames.frames)


def test_json_report_shape(tmp_path):
    gt, pred = make_sav_set(tmp_path, seed=2)
    assert main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "-q"]) == 0
    data = json.loads((pred / "results.json").read_text())
    assert data["protocol"] == "sav" and data["skip_first_and_last"] is True
    assert set(data["global"]) == {"J&F", "J", "F", "J_recall", "J_decay", "F_recall", "F_decay"}
    first = data["objects"][0]
    assert first["object"] == "000" and first["frames"][0] in {"00004", "00008", "00012", "00016", "00020"}
    assert len(first["J_frames"]) == len(first["frames"]) == len(first["F_frames"])
    assert data["global"]["J&F"] == pytest.approx((data["global"]["J"] + data["global"]["F"]) / 2)


def test_zero_one_palette_masks_match_official(tmp_path):
    """SAM 2 writes per-object masks as 0/1 palette PNGs: the zero-copy path must score them alike."""
    gt, pred = make_sav_set(tmp_path, seed=5)
    for path in pred.rglob("*.png"):
        write_mask(path, np.array(Image.open(path)) > 0, mode="P")
    for path in list(gt.rglob("*.png"))[::2]:
        write_mask(path, (np.array(Image.open(path)) > 0) * 7)
    report = evaluate(gt, pred, EvalOptions())
    _assert_same_scores(_by_key(report), official_sav_scores(gt, pred))
