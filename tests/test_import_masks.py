"""import-masks writes JSONs that validate and index accept, both types and layouts; the video metadata comes from
the mp4, else the JPEG frames, else it is guessed, and every guess is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from annotation_samples import deny_listing
from sample_data import sample_folder
from savkit.annotations import read_sav_json
from savkit.cli import main
from savkit.convert.masks import export_masks, guessed_fields, import_masks
from savkit.index import build_index, run_query
from savkit.io.png import read_png, write_png
from savkit.validate import validate_paths
from video_samples import first_20_annotated_frames, index_frame, valtest_folder, write_index_video

SAMPLE_ID = "sav_000001"
HEIGHT, WIDTH = index_frame(0).shape[:2]  # the barcode videos of video_samples


@pytest.fixture(scope="module")
def short_sample(tmp_path_factory) -> Path:
    """The real sample's JSONs cut to their first 20 annotated frames (80 video frames): quick to convert."""
    folder = tmp_path_factory.mktemp("short")
    for masklet_type in ("manual", "auto"):
        name = f"{SAMPLE_ID}_{masklet_type}.json"
        data = json.loads((sample_folder() / name).read_text())
        first_20_annotated_frames(data)
        (folder / name).write_text(json.dumps(data))
    return folder


@pytest.fixture(scope="module")
def exports(short_sample: Path, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """The short sample exported once per (type, layout)."""
    folders = {}
    for masklet_type in ("manual", "auto"):
        for layout in ("sav", "davis"):
            folder = tmp_path_factory.mktemp(f"{masklet_type}-{layout}")
            report = export_masks(short_sample, folder, masklet_type, layout, workers=1)
            assert report.failures == []
            folders[masklet_type, layout] = folder
    return folders


@pytest.mark.parametrize("layout", ["sav", "davis"])
@pytest.mark.parametrize("masklet_type", ["manual", "auto"])
def test_export_import_validate_and_index(
    short_sample: Path, exports, tmp_path: Path, masklet_type: str, layout: str
) -> None:
    out = tmp_path / "json"
    report = import_masks(exports[masklet_type, layout], out, masklet_type, workers=1)
    assert report.failures == []
    imported = out / f"{SAMPLE_ID}_{masklet_type}.json"
    assert validate_paths([imported]) == []

    original = json.loads((short_sample / imported.name).read_text())
    data = json.loads(imported.read_text())
    frames, count = len(original["masklet"]), original["masklet_num"]
    if (
        layout == "davis"
    ):  # an object absent from every label PNG (manual 3 appears at frame 113) is not there
        count = len(labels_in(exports[masklet_type, layout] / SAMPLE_ID))
        assert 0 < count < original["masklet_num"] or masklet_type == "auto"
    assert (len(data["masklet"]), data["masklet_num"]) == (frames, count)
    if masklet_type == "auto":  # as released: annotated frames x masklets
        assert np.array(data["masklet_stability_score"]).shape == (frames, count)
        assert {score for row in data["masklet_stability_score"] for score in row} == {1.0}
    else:
        assert data["masklet_stability_score"] == [None] * count
    # no video: 80 frames become 77 (the last annotated frame + 1), and the run says so
    assert data["video_frame_count"] == 77.0
    guessed = {guess.field for guess, video_ids in guessed_fields(report) if video_ids == [SAMPLE_ID]}
    expected = {"video_frame_count", "video_duration", "video_environment", "video_split"}
    assert guessed == expected | ({"masklet_stability_score"} if masklet_type == "auto" else set())

    index = build_index(out, tmp_path / "index", workers=1)
    assert (index.videos, index.masklets, index.failures) == (1, count, [])
    rows = run_query(tmp_path / "index", f"SELECT count(*) FROM masklets WHERE type = '{masklet_type}'")
    assert rows.first_rows == [(count,)]


def labels_in(video_dir: Path) -> set[int]:
    return {int(label) for png in video_dir.glob("*.png") for label in np.unique(read_png(png)) if label}


def mask_tree(root: Path, video_id: str = "vid", frames: tuple[int, ...] = (0, 4, 8)) -> Path:
    """``root/{video_id}/000/{frame}.png``: a square that moves, at the barcode videos' size."""
    for k, frame in enumerate(frames):
        mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        mask[5:20, 10 * k : 10 * k + 15] = 255
        write_png(root / video_id / "000" / f"{frame:05d}.png", mask)
    return root


def imported(out: Path, video_id: str = "vid") -> dict:
    return json.loads((out / f"{video_id}_manual.json").read_text())


def test_metadata_from_the_mp4_beside_the_masks(tmp_path: Path, capsys) -> None:
    src = mask_tree(tmp_path / "masks")
    write_index_video(src / "vid.mp4", 11)  # masks end at frame 8; the video has 11 frames
    assert main(["import-masks", str(src), str(tmp_path / "out"), "--split", "train", "--workers", "1"]) == 0
    out, err = capsys.readouterr()
    assert "; video metadata from: mp4 1" in out
    data = imported(tmp_path / "out")
    assert (data["video_frame_count"], data["video_duration"], data["video_split"]) == (
        11.0,
        11 / 24,
        "train",
    )
    assert (data["video_height"], data["video_width"]) == (HEIGHT, WIDTH)
    assert "video_frame_count" not in err and "video_duration" not in err and "video_split" not in err
    assert "note: guessed video_environment for 1 video (vid): null" in err
    # the JSON and its mp4 together pass validate's train checks (frame count and size against the mp4)
    # (a folder of just those two: OUT also holds savkit's hidden completion markers, which validate would note)
    pair = tmp_path / "pair"
    pair.mkdir()
    shutil.copy(src / "vid.mp4", pair)
    shutil.copy(tmp_path / "out" / "vid_manual.json", pair)
    assert validate_paths([pair]) == []


def test_metadata_from_the_videos_folder_searched_recursively(tmp_path: Path, capsys) -> None:
    src = mask_tree(tmp_path / "masks")
    (tmp_path / "videos" / "part1").mkdir(parents=True)
    write_index_video(tmp_path / "videos" / "part1" / "vid.mp4", 10)
    args = ["import-masks", str(src), str(tmp_path / "out"), "--videos", str(tmp_path / "videos"), "-q"]
    assert main(args) == 0
    assert imported(tmp_path / "out")["video_frame_count"] == 10.0
    assert "video_frame_count" not in capsys.readouterr().err


def test_metadata_from_jpeg_frames_given_as_videos(tmp_path: Path) -> None:
    src = mask_tree(tmp_path / "masks")
    split, _ = valtest_folder(tmp_path, frames=12)
    report = import_masks(src, tmp_path / "out", videos=split / "JPEGImages_24fps", workers=1)
    assert report.results["vid"].metadata_source == "JPEG frames"
    data = imported(tmp_path / "out")
    assert (data["video_frame_count"], data["video_duration"]) == (12.0, 0.5)


def test_val_split_root_takes_its_jpegs_and_split_name(tmp_path: Path) -> None:
    split, _ = valtest_folder(tmp_path, frames=11)
    report = import_masks(split, tmp_path / "out", workers=1)  # the split root, not Annotations
    assert report.failures == []
    data = imported(tmp_path / "out")
    assert (data["video_frame_count"], data["video_split"]) == (11.0, "val")
    assert (data["video_height"], data["video_width"]) == (HEIGHT, WIDTH)
    assert {guess.field for guess, _ in guessed_fields(report)} == {"video_environment"}
    assert validate_paths([tmp_path / "out" / "vid_manual.json"]) == []


def test_jpeg_folder_that_skips_frames_is_a_named_guess(tmp_path: Path) -> None:
    split, _ = valtest_folder(tmp_path, frames=11)
    for jpeg in (split / "JPEGImages_24fps" / "vid").glob("*.jpg"):
        if int(jpeg.stem) % 4:
            jpeg.unlink()  # as extract-frames --every 4 leaves it
    report = import_masks(split / "Annotations_6fps", tmp_path / "out", workers=1)
    [how] = [guess.how for guess, _ in guessed_fields(report) if guess.field == "video_frame_count"]
    assert "skips frames" in how and imported(tmp_path / "out")["video_frame_count"] == 9.0


def test_without_a_video_every_guess_is_named_on_stderr(tmp_path: Path, capsys) -> None:
    src = mask_tree(tmp_path / "masks")
    mask_tree(src, "vid2")
    assert (
        main(["import-masks", str(src), str(tmp_path / "out"), "--type", "auto", "--workers", "1", "-q"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    notes = captured.err.splitlines()
    assert "note: guessed video_frame_count for 2 videos (vid, vid2): last annotated frame + 1" in notes[0]
    fields = [line.split()[2] for line in notes if line.startswith("note: guessed ")]
    assert fields == [
        "video_frame_count",
        "video_duration",
        "video_environment",
        "video_split",
        "masklet_stability_score",
    ]
    assert "pass --videos DIR" in notes[-1]
    data = json.loads((tmp_path / "out" / "vid_auto.json").read_text())
    assert (data["video_frame_count"], data["video_duration"], data["video_split"]) == (
        9.0,
        9 / 24,
        "unknown",
    )


@pytest.mark.parametrize(
    ("video_frames", "make_masks", "message"),
    [
        (11, lambda root: mask_tree(root, frames=(0, 4, 8, 12)), "masks go up to frame 12 but"),
        (None, mask_tree, "no vid.mp4 and no vid/ folder of JPEG frames under"),
    ],
)
def test_masks_that_do_not_fit_the_video_fail(tmp_path: Path, video_frames, make_masks, message: str) -> None:
    src = make_masks(tmp_path / "masks")
    (tmp_path / "videos").mkdir()
    if video_frames:
        write_index_video(tmp_path / "videos" / "vid.mp4", video_frames)
    report = import_masks(src, tmp_path / "out", videos=tmp_path / "videos", workers=1)
    [(video_id, reason)] = report.failures
    assert video_id == "vid" and message in reason
    assert not (tmp_path / "out" / "vid_manual.json").exists()


def test_masks_of_another_size_than_the_video_fail(tmp_path: Path) -> None:
    src = tmp_path / "masks"
    write_png(src / "vid" / "000" / "00000.png", np.zeros((HEIGHT, WIDTH + 2), dtype=np.uint8))
    write_index_video(src / "vid.mp4", 4)
    [(_, reason)] = import_masks(src, tmp_path / "out", workers=1).failures
    assert f"masks are {WIDTH + 2}x{HEIGHT} but" in reason and f"is {WIDTH}x{HEIGHT}" in reason


def test_an_object_folder_that_cannot_be_listed_fails_its_video(tmp_path: Path, monkeypatch) -> None:
    """Not an object without masks: the video fails, naming the folder, and no JSON is written for it."""
    src = mask_tree(tmp_path / "masks")
    deny_listing(monkeypatch, src / "vid" / "000")
    [(video_id, reason)] = import_masks(src, tmp_path / "out", workers=1).failures
    assert video_id == "vid" and "000: cannot list the folder (Permission denied)" in reason
    assert not (tmp_path / "out" / "vid_manual.json").exists()


def test_appledouble_pngs_are_ignored(tmp_path: Path) -> None:
    src = mask_tree(tmp_path / "masks")
    (src / "vid" / "000" / "._00000.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    assert import_masks(src, tmp_path / "out", workers=1).failures == []
    assert read_sav_json(tmp_path / "out" / "vid_manual.json").masklets[0].areas().tolist() == [225] * 3
