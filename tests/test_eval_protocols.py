"""The other benchmarks' protocols against their reference algorithms (tests/protocol_references.py), to 1e-9."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from evaldata import random_sequence, write_mask
from protocol_references import davis_unsupervised_reference, vost_reference
from savkit.cli import main
from savkit.errors import SavkitError
from savkit.eval import EvalOptions, evaluate


def make_label_set(root, seed, videos=3, shape=(40, 52), frames=9, void=True, extra_ids=True):
    """DAVIS-layout GT and predictions: objects appearing late and vanishing, void bands along GT boundaries,
    predicted ids the GT never has."""
    rng = np.random.default_rng(seed)
    gt_root, pred_root = root / "gt", root / "pred"
    for v in range(videos):
        objects = int(rng.integers(1, 4))
        gts = [np.zeros(shape, np.uint8) for _ in range(frames)]
        preds = [np.zeros(shape, np.uint8) for _ in range(frames)]
        for obj in range(1, objects + 1):
            for k, mask in enumerate(random_sequence(rng, shape, frames)):
                gts[k][mask] = obj
                moved = np.roll(mask, int(rng.integers(-2, 3)), axis=int(rng.integers(0, 2)))
                preds[k][moved & (rng.random(shape) < 0.95)] = obj
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


def _assert_close(ours: dict, reference: dict) -> None:
    assert ours.keys() == reference.keys()
    for key, values in reference.items():
        assert ours[key] == pytest.approx(values, abs=1e-9), key


@pytest.mark.parametrize("seed", range(3))
def test_vost_matches_reference(tmp_path, seed):
    gt, pred = make_label_set(tmp_path, seed)
    report = evaluate(gt, pred, EvalOptions(protocol="vost"))
    ours = {(o.video, o.object): (o.stats["J"] / 100, o.stats["J_tr"] / 100) for o in report.objects}
    _assert_close(ours, vost_reference(gt, pred))
    assert report.global_scores["J_tr"] == pytest.approx(np.mean([o.stats["J_tr"] for o in report.objects]))
    assert any("object ids the GT never has" in w for w in report.warnings)


def test_vost_over_256_frames_has_no_decay_overflow(tmp_path):
    gt, pred = make_label_set(tmp_path, seed=5, videos=1, shape=(6, 7), frames=262, void=False)
    report = evaluate(gt, pred, EvalOptions(protocol="vost"))
    ours = {(o.video, o.object): (o.stats["J"] / 100, o.stats["J_tr"] / 100) for o in report.objects}
    _assert_close(ours, vost_reference(gt, pred))
    assert len(report.objects[0].frames.frames) == 260


@pytest.mark.parametrize("seed", range(3))
def test_davis2017_unsupervised_matches_reference(tmp_path, seed):
    gt, pred = make_label_set(tmp_path, seed, frames=6)
    report = evaluate(gt, pred, EvalOptions(protocol="davis2017-unsupervised"))
    names = ("J", "J_recall", "J_decay", "F", "F_recall", "F_decay")
    ours = {(o.video, o.object): tuple(o.stats[n] / 100 for n in names) for o in report.objects}
    _assert_close(ours, davis_unsupervised_reference(gt, pred))
    assert report.skip_first_and_last is False and len(report.objects[0].frames.frames) == 6


def test_unsupervised_proposals_are_matched_not_taken_by_id(tmp_path):
    """Proposal 2 predicts object 1 exactly and proposal 1 object 2: the matching swaps them back."""
    shape = (30, 40)
    a, b = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    a[2:12, 3:15], b[15:28, 20:35] = 1, 1
    for k in range(4):
        write_mask(tmp_path / "gt" / "v" / f"{k:05d}.png", a + 2 * b, mode="P")
        write_mask(tmp_path / "pred" / "v" / f"{k:05d}.png", 2 * a + b, mode="P")
    report = evaluate(tmp_path / "gt", tmp_path / "pred", EvalOptions(protocol="davis2017-unsupervised"))
    assert [(o.object, o.stats["J&F"]) for o in report.objects] == [("1", 100.0), ("2", 100.0)]


def test_unsupervised_refuses_more_than_20_proposals(tmp_path):
    gt, pred = make_label_set(tmp_path, seed=1, videos=1, frames=4, extra_ids=False)
    frame = next((pred / "v00").iterdir())
    labels = np.array(Image.open(frame))
    labels[0, 0] = 21
    write_mask(frame, labels, mode="P")
    with pytest.raises(SavkitError, match="at most 20 proposals"):
        evaluate(gt, pred, EvalOptions(protocol="davis2017-unsupervised"))


@pytest.mark.parametrize("protocol", ["vost", "davis2017-unsupervised"])
def test_davis_style_protocols_refuse_the_sav_layout(tmp_path, protocol):
    from evaldata import make_sav_set

    gt, pred = make_sav_set(tmp_path, seed=0)
    with pytest.raises(SavkitError, match="DAVIS layout"):
        evaluate(gt, pred, EvalOptions(protocol=protocol))


def test_vost_cli_writes_its_statistics(tmp_path, capsys):
    gt, pred = make_label_set(tmp_path, seed=2)
    assert (
        main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "--protocol", "vost", "-n", "1"]) == 0
    )
    data = json.loads((pred / "results.json").read_text())
    assert data["protocol"] == "vost" and {"J", "J_tr"} <= set(data["global"])
    assert {"J", "J_tr"} <= set(data["objects"][0])
    out = capsys.readouterr().out
    assert "Global score: J: " in out and "J_tr: " in out
