"""``savkit validate``: a clean train and val/test folder pass; every check fires on a file broken to trigger it."""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import savkit.validate
from annotation_samples import (
    TRAIN_FRAMES,
    TRAIN_HEIGHT,
    TRAIN_ID,
    TRAIN_WIDTH,
    make_train_folder,
    make_valtest,
    random_masks,
    write_grey_video,
)
from savkit.cli import main
from savkit.io.png import write_png


def run_validate(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str]:
    code = main(["validate", "-q", "--workers", "1", *map(str, args)])
    return code, capsys.readouterr().out


def problem_rows(output: str) -> list[list[str]]:
    """Table rows cut at the header's column positions, header dropped."""
    header, *lines = output.splitlines()
    starts = [header.index(name) for name in ("level", "file", "field", "expected", "found")]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    return [[line[start:end].strip() for start, end in bounds] for line in lines]


def has_row(output: str, level: str, file_end: str, field: str, found_part: str = "") -> bool:
    return any(
        row[0] == level and row[1].endswith(file_end) and row[2] == field and found_part in row[4]
        for row in problem_rows(output)
    )


@pytest.fixture
def train(tmp_path: Path) -> Path:
    return make_train_folder(tmp_path / "train")


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def manual(train: Path) -> Path:
    return train / f"{TRAIN_ID}_manual.json"


def auto(train: Path) -> Path:
    return train / f"{TRAIN_ID}_auto.json"


def test_clean_train_folder_and_real_sample_json_pass(capsys, train: Path, sample_dir: Path):
    assert run_validate(capsys, train.parent, sample_dir / "sav_000001_manual.json") == (0, "")
    assert main(["validate", str(sample_dir / "sav_000001_auto.json")]) == 0
    assert "ok: no problems found" in capsys.readouterr().out


def test_real_sample_folder_reports_the_missing_mp4(capsys, sample_dir: Path):
    code, out = run_validate(capsys, sample_dir)
    assert code == 1
    assert problem_rows(out) == [
        ["error", str(sample_dir / "sav_000001.mp4"), "(file)", "present", "missing"]
    ]


def test_truncated_json_and_missing_path_are_problem_rows(capsys, train: Path, tmp_path: Path):
    text = manual(train).read_text()
    manual(train).write_text(text[: len(text) // 2])
    code, out = run_validate(capsys, train, tmp_path / "nowhere")
    assert code == 1
    assert has_row(out, "error", f"{TRAIN_ID}_manual.json", "(file)", "not valid JSON")
    assert has_row(out, "error", "nowhere", "(path)", "not found")


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("dangling", "a dangling symlink (its target does not exist); fix or remove the link"),
        ("loop", "a symlink loop (too many levels of symbolic links); fix or remove the link"),
        ("denied", "cannot read (Permission denied); check the file"),
    ],
)
def test_broken_link_or_denied_json_is_a_problem_row(capsys, train: Path, monkeypatch, problem, reason):
    """As ``savkit index`` lists them (one wording: savkit.io.files.unreadable); the other checks still run."""
    broken = auto(train)
    if problem == "denied":  # simulated: the tests may run as root, whom permissions do not stop
        real_open = os.open

        def denied(path, *args, **kwargs):
            if os.fspath(path) == str(broken):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    else:
        broken.unlink()
        broken.symlink_to("nowhere.json" if problem == "dangling" else broken.name)
    edit_json(manual(train), lambda data: data.update(video_id="sav_999999"))
    code, out = run_validate(capsys, train)
    assert code == 1
    assert problem_rows(out) == [
        ["error", str(manual(train)), "video_id", TRAIN_ID, "sav_999999"],
        ["error", str(broken), "(file)", "valid JSON", reason],
    ]


def test_a_non_json_file_is_a_problem(capsys, train: Path):
    code, out = run_validate(capsys, train / f"{TRAIN_ID}.mp4")
    assert code == 1 and has_row(out, "error", f"{TRAIN_ID}.mp4", "(path)", ".mp4")


@pytest.mark.parametrize(
    ("change", "field", "found_part"),
    [
        (lambda d: d.pop("video_split"), "video_split", "missing"),
        (lambda d: d.update(video_id=7), "video_id", "7"),
        (lambda d: d.update(video_height=32.5), "video_height", "32.5"),
        (lambda d: d["masklet_size_bucket"].__setitem__(1, "huge"), "masklet_size_bucket[1]", "huge"),
        (lambda d: d["masklet_id"].__setitem__(0, "a"), "masklet_id[0]", "'a'"),
        (lambda d: d.update(masklet_num=3), "masklet_id length", "2"),
        (lambda d: d["masklet"][1].pop(), "masklet[1]", "1 RLEs"),
        (
            lambda d: d["masklet"][2][0].update(size=[TRAIN_WIDTH, TRAIN_HEIGHT]),
            "masklet[2][0].size",
            "[48, 32]",
        ),
        (lambda d: d["masklet"][0][1].pop("counts"), "masklet[0][1]", "size"),
        (
            lambda d: d["masklet"][1][0].update(size=[float(TRAIN_HEIGHT), float(TRAIN_WIDTH)]),
            "masklet[1][0]",
            f"[{float(TRAIN_HEIGHT)}, {float(TRAIN_WIDTH)}]",
        ),
        (lambda d: d["masklet"][1][1].update(counts="1"), "masklet[1][1].counts", "not 32 x 48"),
        (lambda d: d["masklet_stability_score"].__setitem__(0, 0.5), "masklet_stability_score[0]", "0.5"),
    ],
)
def test_schema_problems(capsys, train: Path, change, field: str, found_part: str):
    edit_json(manual(train), change)
    code, out = run_validate(capsys, manual(train))
    assert code == 1
    assert has_row(out, "error", f"{TRAIN_ID}_manual.json", field, found_part), out


@pytest.mark.parametrize(
    ("change", "field", "found_part"),
    [
        (lambda d: d["masklet_stability_score"].pop(), "masklet_stability_score length", "2"),
        (lambda d: d["masklet_stability_score"][1].pop(), "masklet_stability_score[1]", "[0.9, 0.9]"),
        (lambda d: d["masklet_edited_frame_count"].__setitem__(2, 4), "masklet_edited_frame_count[2]", "4"),
        (lambda d: d["masklet_type"].__setitem__(0, "manual"), "masklet_type[0]", "manual"),
        (lambda d: d["masklet_id"].__setitem__(2, 0), "masklet_id", "repeated [0]"),
        (lambda d: d.update(video_resolution=99.0), "video_resolution", "99.0"),
        (lambda d: d.update(video_environment="Outdoor"), "video_environment", "Outdoor"),
    ],
)
def test_auto_json_consistency_problems(capsys, train: Path, change, field: str, found_part: str):
    edit_json(auto(train), change)
    code, out = run_validate(capsys, train)
    assert code == 1
    assert has_row(out, "error", f"{TRAIN_ID}_auto.json", field, found_part), out


def test_recomputed_metadata_differs_from_stored(capsys, train: Path):
    data = json.loads(manual(train).read_text())
    stored_abs = data["masklet_size_abs"][1]

    def change(d: dict) -> None:
        d["masklet_size_abs"][1] = stored_abs * (1 + 1e-6)
        d["masklet_visibility_changes"][0] += 2
        d["masklet_first_appeared_frame"][1] += 1
        d["masklet_frame_count"][0] = 8

    edit_json(manual(train), change)
    code, out = run_validate(capsys, manual(train))
    assert code == 1
    rows = {row[2]: row for row in problem_rows(out)}
    assert set(rows) == {
        "masklet_size_abs[1]",
        "masklet_visibility_changes[0]",
        "masklet_first_appeared_frame[1]",
        "masklet_frame_count[0]",
    }
    assert rows["masklet_size_abs[1]"][3].startswith(f"{stored_abs} (recomputed)")
    assert rows["masklet_frame_count[0]"][3].startswith("3 (recomputed)")


def test_file_name_must_match_video_id(capsys, train: Path):
    renamed = train / "sav_000778_manual.json"
    manual(train).rename(renamed)
    code, out = run_validate(capsys, renamed)
    assert code == 1 and has_row(out, "error", "sav_000778_manual.json", "video_id", TRAIN_ID)
    other = train / "annotations.json"
    renamed.rename(other)
    code, out = run_validate(capsys, other)
    assert code == 0 and has_row(out, "warning", "annotations.json", "(file name)", "annotations.json")


def test_missing_mp4_and_missing_manual_json(capsys, train: Path):
    (train / f"{TRAIN_ID}.mp4").unlink()
    manual(train).unlink()
    code, out = run_validate(capsys, train)
    assert code == 1
    assert has_row(out, "error", f"{TRAIN_ID}.mp4", "(file)", "missing")
    assert has_row(out, "error", f"{TRAIN_ID}_manual.json", "(file)", "missing")


def test_mp4_frame_count_mismatch_is_an_error_or_with_lenient_a_warning(capsys, train: Path):
    write_grey_video(train / f"{TRAIN_ID}.mp4", TRAIN_FRAMES - 1, TRAIN_HEIGHT, TRAIN_WIDTH)
    code, out = run_validate(capsys, train)
    assert code == 1
    assert has_row(out, "error", f"{TRAIN_ID}.mp4", "frame count", str(TRAIN_FRAMES - 1))
    assert has_row(out, "error", f"{TRAIN_ID}.mp4", "annotated frames", "3 (len(masklet))")  # ceil(8 / 4) = 2
    code, out = run_validate(capsys, "--lenient", train)
    assert code == 0
    assert has_row(out, "warning", f"{TRAIN_ID}.mp4", "frame count", str(TRAIN_FRAMES - 1))


def test_annotated_frames_against_video_frame_count(capsys, train: Path):
    edit_json(manual(train), lambda d: d.update(video_frame_count=20.0))
    code, out = run_validate(capsys, manual(train))
    assert code == 1 and has_row(out, "error", f"{TRAIN_ID}_manual.json", "masklet length", "3")
    assert "5 annotated frames" in out
    assert run_validate(capsys, "--lenient", manual(train))[0] == 0


def test_mp4_size_and_unreadable_mp4(capsys, train: Path):
    write_grey_video(train / f"{TRAIN_ID}.mp4", TRAIN_FRAMES, TRAIN_HEIGHT + 2, TRAIN_WIDTH)
    code, out = run_validate(capsys, train)
    assert code == 1 and has_row(out, "error", f"{TRAIN_ID}.mp4", "height x width", "34 x 48")
    (train / f"{TRAIN_ID}.mp4").write_bytes(b"not a video")
    code, out = run_validate(capsys, train)
    assert code == 1 and has_row(out, "error", f"{TRAIN_ID}.mp4", "(file)")


def test_output_lists_columns_and_summary_without_quiet(capsys, train: Path):
    manual(train).unlink()
    assert main(["validate", str(train)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["level", "file", "field", "expected", "found"]
    assert out.splitlines()[-1] == "1 error, 0 warnings"


# ------------------------------------------------------------------------------------------------ val/test


@pytest.fixture
def val(tmp_path: Path) -> Path:
    generated = random_masks(6, height=12, width=20, seed=4).astype(np.uint8)
    masks = {
        0: {0: generated[1], 4: generated[2], 8: generated[3]},
        1: {0: generated[4], 4: generated[5], 8: generated[0]},
    }
    root = tmp_path / "sav_val"
    make_valtest(root, masks, num_jpegs=9, size=(12, 20))
    (root / "sav_val.txt").write_text("v1\n")
    return root


def obj(val: Path, object_id: int) -> Path:
    return val / "Annotations_6fps" / "v1" / f"{object_id:03d}"


def test_clean_valtest_folder_passes(capsys, val: Path):
    assert run_validate(capsys, val) == (0, "")
    assert run_validate(capsys, val / "Annotations_6fps") == (0, "")
    assert run_validate(capsys, val / "Annotations_6fps" / "v1") == (0, "")


def test_object_folders_must_cover_the_same_frames(capsys, val: Path):
    (obj(val, 1) / "00008.png").unlink()
    for path in (val, val / "Annotations_6fps" / "v1"):
        code, out = run_validate(capsys, path)
        assert code == 1 and has_row(out, "error", "001", "frames", "no 00008.png")


def test_pngs_must_be_binary_and_of_the_jpeg_size(capsys, val: Path):
    labels = np.zeros((12, 20), np.uint8)
    labels[:3], labels[5:7] = 1, 2
    write_png(obj(val, 0) / "00004.png", labels)
    write_png(obj(val, 1) / "00000.png", np.zeros((12, 21), np.uint8))
    (obj(val, 1) / "00008.png").write_bytes(b"\x89PNG broken")
    code, out = run_validate(capsys, val)
    assert code == 1
    assert has_row(out, "error", "000/00004.png", "binary", "[0, 1, 2]")
    assert has_row(out, "error", "001/00000.png", "height x width", "12 x 21")
    assert has_row(out, "error", "001/00008.png", "(file)", "PNG")


def test_folder_and_file_names(capsys, val: Path):
    write_png(obj(val, 0) / "00005.png", np.zeros((12, 20), np.uint8))
    shutil.copytree(obj(val, 0), obj(val, 0).with_name("cat"))
    code, out = run_validate(capsys, val)
    assert code == 1
    assert has_row(out, "error", "000", "(file name)", "00005.png")
    assert has_row(out, "error", "cat", "(folder name)", "cat")


def test_jpegs_missing_and_video_list(capsys, val: Path):
    (val / "JPEGImages_24fps" / "v1" / "00008.jpg").unlink()
    (val / "sav_val.txt").write_text("v1\nv9\n")
    code, out = run_validate(capsys, val)
    assert code == 1
    assert has_row(out, "error", "JPEGImages_24fps/v1", "frames", "no 00008.jpg")
    assert has_row(out, "error", "sav_val.txt", "video ids", "v9")
    shutil.rmtree(val / "JPEGImages_24fps" / "v1")
    code, out = run_validate(capsys, val)
    assert code == 1 and has_row(out, "error", "JPEGImages_24fps/v1", "(folder)", "missing")


def test_a_crashing_check_is_an_error_row_and_the_others_still_run(capsys, train: Path, monkeypatch):
    def broken_reader(path):
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(savkit.validate, "VideoReader", broken_reader)
    other = make_train_folder(train.parent / "other")
    manual(other).unlink()
    (other / f"{TRAIN_ID}.mp4").unlink()
    code, out = run_validate(capsys, train.parent)
    assert code == 1
    assert has_row(out, "error", f"sub/{TRAIN_ID}", "(check)", "RuntimeError: decoder exploded")
    assert has_row(out, "error", f"other/sub/{TRAIN_ID}_manual.json", "(file)", "missing")
    assert has_row(out, "error", f"other/sub/{TRAIN_ID}.mp4", "(file)", "missing")


def test_worker_processes_give_the_same_report(capsys, train: Path, val: Path):
    edit_json(auto(train), lambda d: d.update(video_resolution=1.0))
    (obj(val, 1) / "00004.png").unlink()
    one = run_validate(capsys, train, val)
    assert main(["validate", "-q", "--workers", "2", str(train), str(val)]) == one[0] == 1
    assert capsys.readouterr().out == one[1]
