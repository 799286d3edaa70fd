"""Conversions on generated videos and the real SA-V sample: exact frame names and content, round trips,
resume after a kill, failures isolated per video, and a Dask LocalCluster run identical to the local run."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import savkit.io.atomic
from sample_data import sample_folder
from savkit.annotations import read_sav_json
from savkit.cli import main
from savkit.convert.frames import encode_jpeg, extract_frames
from savkit.convert.masks import export_masks, import_masks
from savkit.io.video import jpeg_planes, to_rgb
from savkit.parallel import MARKER_DIR, VideoStats, is_complete, partial_folder
from video_samples import read_index, write_index_video

FRAME_COUNTS = {"v1": 30, "v2": 13}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Two barcode videos in nested folders, as the released tar files unpack."""
    src = tmp_path_factory.mktemp("videos")
    (src / "a").mkdir()
    (src / "b" / "c").mkdir(parents=True)
    write_index_video(src / "a" / "v1.mp4", FRAME_COUNTS["v1"])
    write_index_video(src / "b" / "c" / "v2.mp4", FRAME_COUNTS["v2"])
    return src


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (hidden markers excluded) by relative path, with its bytes."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and MARKER_DIR not in path.parts
    }


def mtimes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


def test_frames_are_named_by_24fps_index_and_show_that_frame(videos, tmp_path):
    report = extract_frames(videos, tmp_path, every=4, workers=1)
    assert report.failures == []
    for video_id, count in FRAME_COUNTS.items():
        names = sorted(path.name for path in (tmp_path / video_id).iterdir())
        assert names == [f"{index:05d}.jpg" for index in range(0, count, 4)]
        for name in names:
            rgb = cv2.imread(str(tmp_path / video_id / name))[:, :, ::-1]
            assert read_index(rgb) == int(name[:5])
        assert is_complete(tmp_path, video_id)
    stats = report.results["v1"]
    assert stats.files == 8 and stats.bytes == sum(p.stat().st_size for p in (tmp_path / "v1").iterdir())


def test_every_frame_and_quality(videos, tmp_path):
    extract_frames(videos / "b", tmp_path / "q95", workers=1)
    extract_frames(videos / "b", tmp_path / "q30", quality=30, workers=1)
    high, low = tree(tmp_path / "q95"), tree(tmp_path / "q30")
    assert sorted(high) == [f"v2/{index:05d}.jpg" for index in range(13)]
    assert sum(map(len, low.values())) < sum(map(len, high.values()))


def test_resume_skips_finished_videos_and_redoes_partial_ones(videos, tmp_path):
    extract_frames(videos, tmp_path, every=4, workers=1)
    expected = tree(tmp_path)
    finished = mtimes(tmp_path / "v1")
    # Simulated kill mid-v2 (under --overwrite): its folder lost files, its marker says it is being written;
    # a temporary folder was left behind.
    (tmp_path / MARKER_DIR / "v2.json").write_text('{"state": "writing"}')
    for path in sorted((tmp_path / "v2").iterdir())[1:]:
        path.unlink()
    (partial_folder(tmp_path, "v2") / "00004.jpg").parent.mkdir()
    (partial_folder(tmp_path, "v2") / "00004.jpg").write_bytes(b"half a frame")

    report = extract_frames(videos, tmp_path, every=4, workers=1)
    assert report.results["v1"] == VideoStats(files=8, bytes=report.results["v1"].bytes, skipped=True)
    assert not report.results["v2"].skipped
    assert mtimes(tmp_path / "v1") == finished
    assert tree(tmp_path) == expected
    assert not partial_folder(tmp_path, "v2").exists()

    extract_frames(videos, tmp_path, every=4, workers=1, overwrite=True)
    assert mtimes(tmp_path / "v1") != finished


def faststart_copy(src: Path, dst: Path) -> Path:
    """Remux with the index (moov) first, as streamed mp4s are: a truncated copy still opens."""
    with av.open(str(src)) as source, av.open(str(dst), "w", options={"movflags": "faststart"}) as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return dst


def test_corrupt_and_truncated_videos_fail_alone_with_exit_code_1(videos, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(videos, src)
    (src / "garbage.mp4").write_bytes(b"this is not an mp4" * 100)
    data = faststart_copy(src / "a" / "v1.mp4", tmp_path / "faststart.mp4").read_bytes()
    (src / "truncated.mp4").write_bytes(data[: len(data) // 2])  # header intact, frames missing

    code = main(["extract-frames", str(src), str(tmp_path / "out"), "--every", "4", "--workers", "2"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "2 videos done, 0 skipped, 2 failed; 12 frames" in out
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert [line.split(":")[1].strip() for line in failed] == ["garbage", "truncated"]
    assert "not a valid video (invalid data)" in failed[0]
    assert "truncated" in failed[1] or "damaged" in failed[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MARKER_DIR, "v1", "v2"]


def test_cli_quiet_prints_nothing_and_bad_arguments_exit_2(videos, tmp_path, capsys):
    assert main(["extract-frames", str(videos), str(tmp_path), "-q", "--workers", "1"]) == 0
    assert capsys.readouterr() == ("", "")
    assert main(["extract-frames", str(tmp_path / "missing"), str(tmp_path), "-q"]) == 2
    assert main(["extract-frames", str(videos), str(tmp_path), "--every", "0"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_local_cluster_frames_equal_local_processes(videos, tmp_path, dask_client):
    local = extract_frames(videos, tmp_path / "local", every=4, workers=2)
    assert local.failures == []
    address = dask_client.scheduler.address  # the CLI connects by address, as to a remote cluster
    command = ["extract-frames", str(videos), str(tmp_path / "dask"), "--every", "4", "--scheduler", address]
    assert main([*command, "-q"]) == 0
    assert tree(tmp_path / "dask") == tree(tmp_path / "local") != {}


# ----------------------------------------------------------------------------------------------------- masks


def coco_masks(json_path: Path) -> tuple[list[int], list[list[np.ndarray]]]:
    """(masklet ids, bool masks per annotated frame) decoded straight from the JSON with pycocotools."""
    data = json.loads(json_path.read_text())
    return data["masklet_id"], [
        [mask_utils.decode(r).astype(bool) for r in frame] for frame in data["masklet"]
    ]


def read_pixels(png: Path) -> np.ndarray:
    with Image.open(png) as image:
        return np.array(image)


@pytest.fixture(scope="module")
def sample_once() -> Path:
    """The real sample for module-scoped fixtures (``sample_dir`` is function-scoped)."""
    return sample_folder()


@pytest.fixture(scope="module")
def sav_export(sample_once, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sav")
    report = export_masks(sample_once, out, "manual", "sav", workers=1)
    assert report.failures == []
    return out


@pytest.fixture(scope="module")
def davis_export(sample_once, tmp_path_factory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("davis")
    report = export_masks(sample_once, out, "both", "davis", workers=1)
    assert report.failures == []
    return out, report.results["sav_000001"].overlap_pixels


def test_sav_layout_is_one_0_255_png_per_object_and_24fps_frame(sample_dir, sav_export):
    ids, frames = coco_masks(sample_dir / "sav_000001_manual.json")
    video = sav_export / "sav_000001"
    assert sorted(p.name for p in video.iterdir()) == [f"{i:03d}" for i in ids]
    for position, object_id in enumerate(ids):
        folder = video / f"{object_id:03d}"
        assert sorted(p.name for p in folder.iterdir()) == [f"{4 * k:05d}.png" for k in range(len(frames))]
        for k, masks in enumerate(frames):
            assert np.array_equal(read_pixels(folder / f"{4 * k:05d}.png"), masks[position] * np.uint8(255))


def test_davis_layout_lowest_number_wins_and_overlaps_are_counted(sample_dir, davis_export):
    out, reported_overlap = davis_export
    manual_ids, manual = coco_masks(sample_dir / "sav_000001_manual.json")
    auto_ids, auto = coco_masks(sample_dir / "sav_000001_auto.json")
    labels = [i + 1 for i in manual_ids] + [i + 1 + max(manual_ids) + 1 for i in auto_ids]
    overlap = 0
    for k in range(len(manual)):
        masks = manual[k] + auto[k]
        expected = np.zeros(masks[0].shape, dtype=np.uint8)
        for label, mask in sorted(zip(labels, masks, strict=True)):
            expected[mask & (expected == 0)] = label
        overlap += int((np.sum(masks, axis=0) >= 2).sum())
        png = out / "sav_000001" / f"{4 * k:05d}.png"
        assert np.array_equal(read_pixels(png), expected)
    assert reported_overlap == overlap > 0
    with Image.open(png) as image:
        assert image.mode == "P"
        assert image.getpalette()[:12] == [
            0,
            0,
            0,
            128,
            0,
            0,
            0,
            128,
            0,
            128,
            128,
            0,
        ]  # DAVIS: black, red, green, olive


@pytest.mark.parametrize("layout", ["sav", "davis"])
def test_export_import_export_is_byte_identical(sample_dir, sav_export, davis_export, tmp_path, layout):
    first = sav_export if layout == "sav" else davis_export[0]
    import_report = import_masks(first, tmp_path / "json", workers=1)
    assert import_report.failures == []
    export_masks(tmp_path / "json", tmp_path / "again", "manual", layout, workers=1)
    assert tree(tmp_path / "again") == tree(first)


def test_imported_json_has_the_original_masks_and_metadata(sample_dir, sav_export, tmp_path):
    import_masks(sav_export, tmp_path, "manual", "train", workers=1)
    imported = read_sav_json(tmp_path / "sav_000001_manual.json")
    original = read_sav_json(sample_dir / "sav_000001_manual.json")
    assert imported.split == "train" and (imported.height, imported.width) == (848, 480)
    for mine, theirs in zip(imported.masklets, original.masklets, strict=True):
        assert (mine.id, mine.rles) == (theirs.id, theirs.rles)
        assert (mine.size_abs, mine.size_bucket, mine.first_appeared_frame, mine.visibility_changes) == (
            theirs.size_abs,
            theirs.size_bucket,
            theirs.first_appeared_frame,
            theirs.visibility_changes,
        )


def test_bad_json_and_bad_png_tree_fail_alone(sample_dir, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(sample_dir / "sav_000001_manual.json", src)
    text = (sample_dir / "sav_000001_manual.json").read_text()
    (src / "sav_000002_manual.json").write_text(text[: len(text) // 2])
    assert main(["export-masks", str(src), str(tmp_path / "png"), "--workers", "2", "--layout", "davis"]) == 1
    out, err = capsys.readouterr()
    assert "1 video done, 0 skipped, 1 failed; 121 PNGs" in out and "overlapping pixels" in out
    assert err.count("failed: ") == 1 and "failed: sav_000002: " in err and "not valid JSON" in err
    assert is_complete(tmp_path / "png", "sav_000001")

    (tmp_path / "png" / "mixed" / "000").mkdir(parents=True)
    (tmp_path / "png" / "mixed" / "00000.png").write_bytes(b"")
    assert main(["import-masks", str(tmp_path / "png"), str(tmp_path / "json"), "-q"]) == 1
    assert "failed: mixed: " in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == [MARKER_DIR, "sav_000001_manual.json"]
    assert sorted(p.name for p in (tmp_path / "json" / MARKER_DIR).iterdir()) == [
        ".settings.json",
        "sav_000001_manual.json.json",
    ]


def test_a_video_whose_folder_cannot_be_written_fails_alone_naming_its_output(
    videos, sample_dir, tmp_path, capsys, monkeypatch
):
    """A full disk met while one video's folder is written: one failure line naming the folder the user will look
    for, not savkit's temporary (.{id}.partial), and the other videos are written."""
    src = tmp_path / "src"
    src.mkdir()
    for video_id in ("sav_000001", "sav_000002"):
        shutil.copy(sample_dir / "sav_000001_manual.json", src / f"{video_id}_manual.json")
    mkstemp, write_bytes = savkit.io.atomic.tempfile.mkstemp, Path.write_bytes

    def full_for_one_video(suffix="", prefix="tmp", dir=None, text=False):
        if partial_folder(tmp_path / "png", "sav_000002") in Path(dir).parents:
            raise OSError(
                errno.ENOSPC, "No space left on device", os.path.join(dir, f"{prefix}a1b2c3d4{suffix}")
            )
        return mkstemp(suffix=suffix, prefix=prefix, dir=dir, text=text)

    def full_for_v2(path, data):
        if partial_folder(tmp_path / "frames", "v2") in path.parents:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_bytes(path, data)

    monkeypatch.setattr(savkit.io.atomic.tempfile, "mkstemp", full_for_one_video)
    monkeypatch.setattr(Path, "write_bytes", full_for_v2)
    runs = [
        (["export-masks", src, tmp_path / "png"], "sav_000002", "sav_000001"),
        (["extract-frames", videos, tmp_path / "frames"], "v2", "v1"),
    ]
    for argv, failed, written in runs:
        out = argv[2]
        assert main([*map(str, argv), "--workers", "1", "-q"]) == 1
        err = capsys.readouterr().err
        assert err.splitlines()[-1] == (
            f"failed: {failed}: cannot write {out / failed} (No space left on device); nothing was written: "
            "check the folder's permissions and free space, or choose another output folder"
        )
        assert ".partial" not in err and ".tmp" not in err and "Traceback" not in err
        assert is_complete(out, written) and not os.path.lexists(out / failed)
        assert not partial_folder(out, failed).exists()


def test_local_cluster_masks_equal_local_run(sample_dir, davis_export, tmp_path, dask_client):
    report = export_masks(sample_dir, tmp_path, "both", "davis", scheduler=dask_client)
    assert report.results["sav_000001"].overlap_pixels == davis_export[1]
    assert tree(tmp_path) == tree(davis_export[0])


def colourful_frame(height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth gradients in every channel (no sharp colour edges, which 4:2:0 chroma would blur)."""
    yy, xx = np.mgrid[0:height, 0:width]
    channels = [xx * 255 // width, yy * 255 // height, 255 - (xx + yy) * 255 // (width + height)]
    return np.stack(channels, axis=2).astype(np.uint8)


def one_frame_video(path: Path, rgb: np.ndarray, pix_fmt: str, colorspace: str, full: bool, turn: int = 0):
    """An mp4 holding ``rgb`` in the given pixel format, colour space tag and range; decoded back."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], pix_fmt
        stream.codec_context.colorspace = {"ITU601": 5, "ITU709": 1}[colorspace]
        stream.codec_context.color_range = 2 if full else 1
        stream.options = {"crf": "0"}
        if turn:
            stream.set_display_rotation(turn)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format=pix_fmt, dst_colorspace=colorspace, dst_color_range="JPEG" if full else "MPEG"
        )
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


@pytest.mark.parametrize(
    ("pix_fmt", "colorspace", "full", "turn"),
    [
        ("yuv420p", "ITU601", False, 0),  # planes stretched to full range by a lookup table
        ("yuvj420p", "ITU601", True, 0),  # planes as they are
        ("yuv420p", "ITU709", False, 0),  # converted by swscale
        ("yuv444p", "ITU601", False, 0),
        ("yuv420p", "ITU601", False, 90),  # planes turned as displayed
    ],
)
def test_jpeg_from_yuv_planes_shows_the_colours_of_the_rgb_frame(tmp_path, pix_fmt, colorspace, full, turn):
    frame = one_frame_video(tmp_path / "one.mp4", colourful_frame(), pix_fmt, colorspace, full, turn)
    expected = to_rgb(frame)
    assert jpeg_planes(frame) is not None
    shown = cv2.imdecode(np.frombuffer(encode_jpeg(frame, 95), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert shown.shape == expected.shape
    assert (
        np.abs(shown.astype(int) - expected).mean() < 3
    )  # cv2.imencode of the RGB: 1.9-2.0; unstretched range or BT.709 read as BT.601: 7+


def test_odd_sized_frames_are_encoded_through_rgb(tmp_path):
    frame = av.VideoFrame.from_ndarray(colourful_frame(47, 63), format="rgb24").reformat(format="yuv420p")
    assert jpeg_planes(frame) is None
    shown = cv2.imdecode(np.frombuffer(encode_jpeg(frame, 95), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert shown.shape == (47, 63, 3) and np.abs(shown.astype(int) - to_rgb(frame)).mean() < 3
