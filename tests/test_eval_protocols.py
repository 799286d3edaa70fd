"""The other benchmarks' protocols against their reference algorithms (tests/protocol_references.py), to 1e-9."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

from evaldata import write_mask
from protocol_data import make_label_set, make_lvos_set, make_mose_set
from protocol_references import (
    davis_unsupervised_reference,
    lvos_reference,
    mosev2_reference,
    vost_reference,
)
from savkit.cli import main
from savkit.errors import SavkitError
from savkit.eval import EvalOptions, evaluate


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


@pytest.mark.parametrize("seed", range(3))
def test_mosev2_matches_reference(tmp_path, seed):
    gt, pred, meta = make_mose_set(tmp_path, seed)
    report = evaluate(gt, pred, EvalOptions(protocol="mosev2", meta=str(tmp_path / "meta.json")))
    reference = mosev2_reference(gt, pred, meta)

    def seg(stats, name):
        return (
            None
            if stats[f"{name}_J"] is None
            else (stats[f"{name}_J"] / 100, stats[f"{name}_F_adaptive"] / 100)
        )

    ours = {
        (o.video, o.object): (
            o.stats["J"] / 100,
            o.stats["F_adaptive"] / 100,
            o.stats["F"] / 100,
            seg(o.stats, "disappear"),
            seg(o.stats, "reappear"),
        )
        for o in report.objects
    }
    assert ours.keys() == reference.keys()
    for key, (j, fa, f, gone, back) in reference.items():
        assert ours[key][:3] == pytest.approx((j, fa, f), abs=1e-9), key
        for mine, theirs in zip(ours[key][3:], (gone, back), strict=True):
            assert (mine is None) == (theirs is None), key
            if theirs is not None:
                assert mine == pytest.approx(theirs, abs=1e-9), key
    values = list(reference.values())
    assert report.global_scores["J&F_adaptive"] == pytest.approx(
        (np.mean([v[0] for v in values]) + np.mean([v[1] for v in values])) * 50, abs=1e-9
    )
    assert any("no prediction" in w for w in report.warnings)


def test_mosev2_adaptive_tolerance_is_tighter_than_classic(tmp_path):
    """A 3x3 object shifted by 2 pixels at 120x160: within the classic 2 px tolerance, outside the adaptive 1 px."""
    gt, pred = np.zeros((120, 160), np.uint8), np.zeros((120, 160), np.uint8)
    gt[50:53, 50:53], pred[50:53, 52:55] = 1, 1
    for k in range(3):
        write_mask(tmp_path / "gt" / "v" / f"{k:05d}.png", gt, mode="P")
        write_mask(tmp_path / "pred" / "v" / f"{k:05d}.png", pred, mode="P")
    (tmp_path / "meta.json").write_text(json.dumps({"videos": {"v": {"length": 3, "objects": ["1"]}}}))
    report = evaluate(
        tmp_path / "gt", tmp_path / "pred", EvalOptions(protocol="mosev2", meta=str(tmp_path / "meta.json"))
    )
    stats = report.objects[0].stats
    assert stats["F"] == 100.0 and stats["F_adaptive"] < stats["F"]
    assert stats["J"] == pytest.approx(100 * (3 + 1) / (15 + 1))


def test_mosev2_needs_meta(tmp_path):
    gt, pred, _ = make_mose_set(tmp_path, seed=0)
    with pytest.raises(SavkitError, match="--meta"):
        evaluate(gt, pred, EvalOptions(protocol="mosev2"))


@pytest.mark.parametrize("seed", range(3))
def test_lvos_matches_reference(tmp_path, seed):
    root, pred, meta = make_lvos_set(tmp_path, seed)
    options = EvalOptions(
        protocol="lvos", meta=str(root / "valid_meta.json"), unseen_list=str(root / "unseen_videos.txt")
    )
    report = evaluate(root, pred, options)
    per_object, global_scores = lvos_reference(root / "Annotations", pred, meta, {"lv1", "lv3"})
    ours = {
        (o.video, o.object): (o.stats["J"] / 100, o.stats["F"] / 100, o.stats["V"] / 100)
        for o in report.objects
    }
    _assert_close(ours, per_object)
    for name, value in global_scores.items():
        assert report.global_scores[name] / 100 == pytest.approx(value, abs=1e-9), name


def test_lvos_reads_a_frame_shared_by_objects_once(tmp_path, monkeypatch):
    """One task per video: a frame in two objects' ranges is read once, and each object keeps its own frames
    (the parity tests check the zero padding of ranges shorter than frame_nums)."""
    import savkit.eval.evaluate  # noqa: F401  (the module, not the function savkit.eval exports)

    module = sys.modules["savkit.eval.evaluate"]
    root, pred, meta = make_lvos_set(tmp_path, seed=2)
    reads = []
    real_read = module.read_label_mask
    monkeypatch.setattr(module, "read_label_mask", lambda path, *a: reads.append(path) or real_read(path, *a))
    options = EvalOptions(
        protocol="lvos", meta=str(root / "valid_meta.json"), unseen_list=str(root / "unseen_videos.txt")
    )
    report = evaluate(root, pred, options)
    assert len(reads) == len(set(reads))
    frames = {(o.video, o.object): o.frames.frames for o in report.objects}
    assert len(reads) == 2 * len({(video, f) for (video, _), names in frames.items() for f in names})
    for video, info in meta["videos"].items():
        for position, entry in enumerate(info["objects"].values(), start=1):
            rng = entry["frame_range"]
            names = [f"{k:08d}.png" for k in range(rng["start"], rng["end"], 5)]
            assert frames[(video, str(position))] == names[1 : min(len(names), rng["frame_nums"] - 1)]
    shared = [
        video
        for video in meta["videos"]
        if len({f for (v, _), names in frames.items() if v == video for f in names})
        < sum(len(names) for (v, _), names in frames.items() if v == video)
    ]
    assert shared  # the data has objects sharing frames


def test_lvos_needs_the_unseen_list(tmp_path):
    root, pred, _ = make_lvos_set(tmp_path, seed=0)
    with pytest.raises(SavkitError, match="--unseen-list"):
        evaluate(root, pred, EvalOptions(protocol="lvos", meta=str(root / "valid_meta.json")))


def test_lvos_cli_takes_meta_and_unseen_list(tmp_path, capsys):
    root, pred, _ = make_lvos_set(tmp_path, seed=1)
    argv = ["eval", "--gt_root", str(root), "--pred_root", str(pred), "--protocol", "lvos", "-n", "1"]
    argv += ["--meta", str(root / "valid_meta.json"), "--unseen-list", str(root / "unseen_videos.txt")]
    assert main(argv) == 0
    data = json.loads((pred / "results.json").read_text())
    assert {"J_seen", "F_seen", "J_unseen", "F_unseen", "J&F", "V"} <= set(data["global"])
    assert "V: " in capsys.readouterr().out


def test_mosev2_without_meta_is_one_line(tmp_path, capsys):
    gt, pred, _ = make_mose_set(tmp_path, seed=0)
    assert main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "--protocol", "mosev2"]) == 2
    err = capsys.readouterr().err
    assert "--meta PATH" in err and len(err.strip().splitlines()) == 1
