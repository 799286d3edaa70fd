"""Folder-level parity: savkit eval against the official algorithm (vos-benchmark) and an independent
full-frame davis2017 reference, on random sets full of edge cases, in both layouts."""

from __future__ import annotations

import json
import os
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image
from vos_benchmark.benchmark import benchmark as vos_benchmark

from evaldata import make_davis_set, make_sav_set, official_sav_scores, write_mask
from protocol_references import davis_f, davis_j, db_statistics
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


def _davis_reference(gt_root, pred_root):
    """``DAVISEvaluation(task="semi-supervised")``, reimplemented from its code: the GT's void (255) set to 0, the
    objects 1..N of the first GT frame, frames 1..-2, and ``db_eval_iou`` / ``db_eval_boundary`` called with no
    void mask (``_evaluate_semisupervised(..., None, ...)``). Predicted ids above N, on which it exits, are dropped."""
    out = {}
    for video in sorted(os.listdir(gt_root)):
        names = sorted(os.listdir(gt_root / video))
        masks = np.stack([np.array(Image.open(gt_root / video / n)) for n in names]).astype(float)
        masks[masks == 255] = 0  # get_all_masks: void pixels become background
        n_objects = int(np.max(masks[0]))
        gt_objects = np.arange(1, n_objects + 1)[:, None, None, None] == masks[None]
        gt_objects, evaluated = gt_objects[:, 1:-1], names[1:-1]
        res = np.stack([np.array(Image.open(pred_root / video / n)) for n in evaluated]).astype(float)
        res_objects = np.arange(1, n_objects + 1)[:, None, None, None] == res[None]
        for ii in range(n_objects):
            js = [davis_j(g, r) for g, r in zip(gt_objects[ii], res_objects[ii], strict=True)]
            fs = [davis_f(r, g) for g, r in zip(gt_objects[ii], res_objects[ii], strict=True)]
            out[(video, str(ii + 1))] = (*db_statistics(js), *db_statistics(fs))
    return out


def _add_void_bands(gt_root, width: int):
    """Void (255) along the objects' boundaries in every GT frame, as DAVIS annotations have it."""
    for path in sorted(gt_root.rglob("*.png")):
        labels = np.array(Image.open(path))
        objects = (labels > 0).astype(np.uint8)
        kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
        band = (cv2.dilate(objects, kernel) > 0) & (cv2.erode(objects, kernel) == 0)
        labels[band & (np.arange(labels.size).reshape(labels.shape) % 3 > 0)] = 255
        write_mask(path, labels, mode="P")


@pytest.mark.parametrize("seed", range(3))
def test_davis2017_protocol_matches_reference(tmp_path, seed):
    gt, pred = make_davis_set(tmp_path, seed, frames=9)
    _add_void_bands(gt, width=seed + 1)
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


def test_davis2017_prediction_on_void_is_a_false_positive(tmp_path):
    """A prediction equal to the GT's objects plus its void band scores below 1, as in the reference."""
    gt, pred = make_davis_set(tmp_path, seed=4, videos=1, frames=5)
    _add_void_bands(gt, width=2)
    for path in sorted((gt / "v00").iterdir()):
        labels = np.array(Image.open(path))
        objects = np.where(labels == 255, 0, labels)
        nearest = cv2.dilate(
            objects, np.ones((7, 7), np.uint8)
        )  # void pixels take a neighbouring object's id
        write_mask(pred / "v00" / path.name, np.where(labels == 255, nearest, objects), mode="P")
    report = evaluate(gt, pred, EvalOptions(protocol="davis2017"))
    reference = _davis_reference(gt, pred)
    assert min(o.stats["J"] for o in report.objects) < 100
    for o in report.objects:
        assert o.stats["J"] / 100 == pytest.approx(reference[(o.video, o.object)][0], abs=1e-9)


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
