"""savkit eval through the CLI: every bad input is one stderr line and exit code 2 with nothing written;
every sanity warning is printed and stored in results.json."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from evaldata import make_davis_set, make_sav_set, write_mask
from savkit.cli import main
from savkit.synthetic import sav_json


def run_eval(capsys, gt, pred, *extra):
    code = main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "-q", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("savkit eval: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


def first_object_frames(pred):
    return sorted((pred / "v00" / "000").iterdir())


@pytest.fixture
def sav_set(tmp_path):
    return make_sav_set(tmp_path, seed=11, videos=3)


def test_missing_prediction_video_with_strict(capsys, sav_set):
    gt, pred = sav_set
    shutil.rmtree(pred / "v01")
    code, _, err = run_eval(capsys, gt, pred, "-s")
    assert_one_line_error(code, err, "--strict", "v01")
    assert not (pred / "results.csv").exists()


def test_missing_prediction_video_without_strict_warns(capsys, sav_set):
    gt, pred = sav_set
    shutil.rmtree(pred / "v01")
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0
    assert "1 of 3 GT videos have no prediction and were skipped" in err
    assert "v01" not in (pred / "results.csv").read_text()


def test_missing_predicted_frame(capsys, sav_set):
    gt, pred = sav_set
    first_object_frames(pred)[2].unlink()
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, "missing predicted frame", "00008.png")
    assert not (pred / "results.json").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_png(capsys, sav_set, damage):
    gt, pred = sav_set
    path = first_object_frames(pred)[3]
    data = path.read_bytes()
    path.write_bytes(b"not a png at all" if damage == "garbage" else data[: len(data) // 2])
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, str(path))


def test_worker_failure_with_processes_ends_the_run(capsys, sav_set):
    gt, pred = sav_set
    first_object_frames(pred)[3].write_bytes(b"\x89PNG\r\n\x1a\n broken")
    code, _, err = run_eval(capsys, gt, pred, "-n", "2")
    assert_one_line_error(code, err, "00012.png")


def test_shape_mismatch(capsys, sav_set):
    gt, pred = sav_set
    path = first_object_frames(pred)[2]
    write_mask(path, np.zeros((10, 10), np.uint8))
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, "shape mismatch", "64x48", "10x10")


def test_more_than_one_object_in_a_per_object_png(capsys, sav_set):
    gt, pred = sav_set
    path = first_object_frames(pred)[2]
    labels = np.zeros((48, 64), np.uint8)
    labels[:5, :5], labels[10:15, 10:15] = 1, 2
    write_mask(path, labels)
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, "more than one object", str(path))


def test_gt_and_prediction_in_different_layouts(capsys, tmp_path):
    gt, _ = make_sav_set(tmp_path / "a", seed=1)
    _, pred = make_davis_set(tmp_path / "b", seed=1)
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, "layout")


@pytest.mark.parametrize("which", ["gt", "pred"])
def test_root_that_does_not_exist(capsys, sav_set, which):
    gt, pred = sav_set
    missing = gt.parent / "nowhere"
    code, _, err = run_eval(capsys, missing if which == "gt" else gt, missing if which == "pred" else pred)
    assert_one_line_error(code, err, "does not exist", "nowhere")


def test_root_without_videos(capsys, sav_set, tmp_path):
    _, pred = sav_set
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_eval(capsys, empty, pred)
    assert_one_line_error(code, err, "holds no video folders")


def test_stray_files_are_ignored_with_a_warning(capsys, sav_set):
    gt, pred = sav_set
    (gt / "v00" / "notes.txt").write_bytes(b"junk")
    (pred / "v00" / "000" / "mask.jpg").write_bytes(b"junk")
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0
    assert "ignored 2 non-PNG files" in err
    assert any("non-PNG" in w for w in json.loads((pred / "results.json").read_text())["warnings"])


def test_prediction_root_is_gt_root(capsys, sav_set, tmp_path):
    gt, _ = sav_set
    out = tmp_path / "out"
    code, _, err = run_eval(capsys, gt, gt, "--output-dir", str(out))
    assert code == 0
    assert "the prediction root is the GT root" in err
    assert "every prediction equals its GT" in err
    assert (out / "results.csv").is_file() and not (gt / "results.csv").exists()


def test_prediction_that_copies_the_gt(capsys, sav_set, tmp_path):
    gt, _ = sav_set
    copy = tmp_path / "copy"
    shutil.copytree(gt, copy)
    code, _, err = run_eval(capsys, gt, copy)
    assert code == 0 and "every prediction equals its GT" in err
    assert json.loads((copy / "results.json").read_text())["global"]["J&F"] == pytest.approx(100)


def test_prediction_with_none_of_the_gt_frame_names(capsys, sav_set):
    gt, pred = sav_set
    for path in first_object_frames(pred):
        path.rename(path.with_name(f"{int(path.stem)}.png"))
    code, _, err = run_eval(capsys, gt, pred)
    assert_one_line_error(code, err, "none of the GT's frame names", "frame naming")


def test_every_prediction_empty(capsys, sav_set):
    gt, pred = sav_set
    for path in pred.rglob("*.png"):
        write_mask(path, np.zeros((48, 64), np.uint8))
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0 and "every prediction of every video is empty" in err


def test_one_video_with_every_prediction_empty(capsys, sav_set):
    gt, pred = sav_set
    for path in (pred / "v02").rglob("*.png"):
        write_mask(path, np.zeros((48, 64), np.uint8))
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0 and "every prediction is empty in 1 videos (e.g. v02)" in err


def test_davis_prediction_ids_the_gt_never_has(capsys, tmp_path):
    gt, pred = make_davis_set(tmp_path, seed=4, videos=1)
    frame = sorted((pred / "v00").iterdir())[3]
    labels = np.zeros((48, 64), np.uint8)
    labels[:4, :5] = 200
    write_mask(frame, labels, mode="P")
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0 and "object ids the GT never has: ignored (20 pixels)" in err


def test_predicted_frames_the_gt_does_not_annotate(capsys, sav_set):
    gt, pred = sav_set
    write_mask(pred / "v00" / "000" / "00001.png", np.zeros((48, 64), np.uint8))
    write_mask(pred / "v00" / "000" / "00002.png", np.zeros((48, 64), np.uint8))
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0 and "ignored 2 predicted frames that the GT does not annotate" in err


def test_object_with_empty_gt_everywhere_is_scored_with_a_warning(capsys, sav_set):
    gt, pred = sav_set
    for path in (gt / "v00" / "000").iterdir():
        write_mask(path, np.zeros((48, 64), np.uint8))
    for path in (pred / "v00" / "000").iterdir():
        write_mask(path, np.zeros((48, 64), np.uint8))
    code, _, err = run_eval(capsys, gt, pred)
    assert code == 0 and "official evaluator crashes here" in err
    objects = json.loads((pred / "results.json").read_text())["objects"]
    scored = next(o for o in objects if o["video"] == "v00" and o["object"] == "000")
    assert scored["J"] == scored["F"] == 100


def test_console_output_has_the_official_table_and_summary(capsys, sav_set):
    gt, pred = sav_set
    assert main(["eval", "--gt_root", str(gt), "--pred_root", str(pred)]) == 0
    out = capsys.readouterr().out
    csv = (pred / "results.csv").read_text()
    assert out.startswith(csv.replace(",", " "))
    assert "\nSummary:\nGlobal score: J&F: " in out and "Time taken: " in out


def test_davis2017_console_shows_recall_and_decay(capsys, tmp_path):
    gt, pred = make_davis_set(tmp_path, seed=1, frames=9)
    assert main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "--protocol", "davis2017"]) == 0
    out = capsys.readouterr().out
    data = json.loads((pred / "results.json").read_text())
    header, global_row, *rows = out.split("\n\n")[0].splitlines()
    assert header.split()[-4:] == ["J-Recall", "J-Decay", "F-Recall", "F-Decay"]
    names = ("J_recall", "J_decay", "F_recall", "F_decay")
    assert global_row.split()[-4:] == [f"{data['global'][n]:.1f}" for n in names]
    assert len(rows) == len(data["objects"])
    for row, obj in zip(rows, data["objects"], strict=True):
        assert row.split()[-4:] == [f"{obj[n]:.1f}" for n in names]
    g = data["global"]
    assert f"Recall and decay: J-Recall: {g['J_recall']:.1f} J-Decay: {g['J_decay']:.1f}" in out


def test_dataset_root_as_gt_root_descends_into_annotations(capsys, tmp_path):
    """The official's convenience: a GT root holding an Annotations folder (and more) means that folder."""
    gt, pred = make_sav_set(tmp_path / "set", seed=6, videos=2)
    root = tmp_path / "dataset"
    (root / "JPEGImages").mkdir(parents=True)
    (root / "README.md").write_text("3 entries here, 2 videos in the prediction root: the official descends")
    shutil.copytree(gt, root / "Annotations")
    code, _, err = run_eval(capsys, root, pred)
    assert code == 0, err
    direct = main(
        ["eval", "--gt_root", str(gt), "--pred_root", str(pred), "-q", "--json", str(tmp_path / "d.json")]
    )
    assert direct == 0
    via_root = json.loads((pred / "results.json").read_text())["objects"]
    assert via_root == json.loads((tmp_path / "d.json").read_text())["objects"]


def test_unknown_protocol_in_the_library_is_a_clear_error(sav_set):
    from savkit.errors import SavkitError
    from savkit.eval import EvalOptions, evaluate

    gt, pred = sav_set
    with pytest.raises(SavkitError, match="unknown protocol 'davis2016': choose one of sav, davis2017"):
        evaluate(gt, pred, EvalOptions(protocol="davis2016"))


def test_savkit_export_masks_output_evaluates(capsys, tmp_path):
    """export-masks marks its output with hidden entries (.savkit-complete/): eval skips them without a word (they
    are savkit's own), and still counts a user's hidden entry."""
    src, gt, pred = tmp_path / "src", tmp_path / "gt", tmp_path / "pred"
    src.mkdir()
    annotations = sav_json(
        "sav_000001", "manual", 2, height=48, width=64, frame_count=20, environment="Indoor", seed=0
    )
    (src / "sav_000001_manual.json").write_text(json.dumps(annotations))
    assert main(["export-masks", str(src), str(gt), "-q", "--workers", "1"]) == 0
    assert any(entry.name.startswith(".") for entry in gt.iterdir())
    shutil.copytree(gt, pred)
    code, _, err = run_eval(capsys, gt, pred, "-s", "-n", "1")
    assert code == 0, err
    assert "hidden or system entries" not in err
    (gt / ".DS_Store").write_bytes(b"")
    code, _, err = run_eval(capsys, gt, pred, "-s", "-n", "1")
    assert re.search(r"ignored 1 hidden or system entries .* \(e\.g\. in \S*gt\)", err), err
    objects = json.loads((pred / "results.json").read_text())["objects"]
    assert [(o["video"], o["object"]) for o in objects] == [("sav_000001", "000"), ("sav_000001", "001")]


def test_hidden_entries_macos_folders_and_appledouble_files_are_ignored(capsys, sav_set):
    gt, pred = sav_set
    clean_code, _, _ = run_eval(capsys, gt, pred, "--json", str(gt.parent / "clean.json"))
    assert clean_code == 0
    for root in (gt, pred):
        (root / "__MACOSX" / "v00").mkdir(parents=True)
        (root / ".Trash").mkdir()
        (root / "v00" / "000" / "._00004.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (gt / "v01" / ".DS_Store").write_bytes(b"\x00")
    code, _, err = run_eval(capsys, gt, pred, "-s")
    assert code == 0, err
    assert "ignored 7 hidden or system entries (names starting with '.', __MACOSX)" in err
    ours = json.loads((pred / "results.json").read_text())["objects"]
    assert ours == json.loads((gt.parent / "clean.json").read_text())["objects"]


def test_gt_root_holding_object_folders_is_refused(capsys, sav_set):
    """A single SA-V video given as the roots: an error naming the parents, and nothing written."""
    gt, pred = sav_set
    before = sorted(pred.rglob("*"))
    code, _, err = run_eval(capsys, gt / "v00", pred / "v00")
    assert_one_line_error(
        code, err, "it looks like a single SA-V video", f"--gt_root {gt}", f"--pred_root {pred}", "000/"
    )
    assert sorted(pred.rglob("*")) == before


def test_prediction_root_holding_object_folders_names_its_parent(capsys, sav_set):
    gt, pred = sav_set
    code, _, err = run_eval(capsys, gt, pred / "v00")
    assert_one_line_error(code, err, "single video's object folders", f"--pred_root {pred}")


def test_roots_one_level_too_high_are_named_without_advising_to_delete(capsys, sav_set, tmp_path):
    gt, pred = sav_set
    gt_high, pred_high = tmp_path / "sav_val", tmp_path / "outputs"
    for root, high in ((gt, gt_high), (pred, pred_high)):
        high.mkdir()
        root.rename(high / "Annotations_6fps")
    code, _, err = run_eval(capsys, gt_high, pred_high)
    assert_one_line_error(
        code,
        err,
        "one level above the video folders",
        f"--gt_root {gt_high / 'Annotations_6fps'}",
        f"--pred_root {pred_high / 'Annotations_6fps'}",
    )
    assert "remove" not in err and not list(pred_high.rglob("results.*"))


@pytest.mark.parametrize(
    "place, flag, needle",
    [
        ("output-dir is a file", "--output-dir", "is a file, not a folder"),
        ("output-dir under a file", "--output-dir", "cannot be created"),
        ("json is a folder", "--json", "is a folder: give a file path"),
        ("output-dir unwritable", "--output-dir", "cannot write in /sys/kernel"),
    ],
)
def test_bad_output_paths_are_one_line_before_evaluating(
    capsys, sav_set, tmp_path, monkeypatch, place, flag, needle
):
    gt, pred = sav_set
    (tmp_path / "a_file").write_text("mine")
    (tmp_path / "a_folder").mkdir()
    value = {
        "output-dir is a file": tmp_path / "a_file",
        "output-dir under a file": tmp_path / "a_file" / "out",
        "json is a folder": tmp_path / "a_folder",
        "output-dir unwritable": "/sys/kernel",  # refuses new files even to root
    }[place]
    monkeypatch.setattr(
        "savkit.eval.evaluate", lambda *a, **k: pytest.fail("evaluated before checking outputs")
    )
    code, _, err = run_eval(capsys, gt, pred, flag, str(value))
    assert_one_line_error(code, err, f"{flag} {value}", needle)
    assert (tmp_path / "a_file").read_text() == "mine" and not any((tmp_path / "a_folder").iterdir())
    assert not list(pred.glob("results.*"))


def test_hyphenated_root_flags_are_aliases(capsys, sav_set, tmp_path):
    gt, pred = sav_set
    for spelling in ("_", "-"):
        out = tmp_path / spelling
        args = [f"--gt{spelling}root", str(gt), f"--pred{spelling}root", str(pred), "--output-dir", str(out)]
        assert main(["eval", *args, "-q"]) == 0
    assert (tmp_path / "-" / "results.csv").read_text() == (tmp_path / "_" / "results.csv").read_text()
