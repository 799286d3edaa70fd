"""savkit.dataset: ids, annotations and frames by id; annotation k <-> video frame 4k; frame-count checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from savkit.annotations import read_valtest_video
from savkit.dataset import Dataset, FrameCountWarning
from savkit.errors import SavkitError
from savkit.io.video import VideoReader, write_video
from video_samples import (
    VIDEO_ID,
    index_frame,
    painted_colours_match,
    painted_sample_video,
    read_index,
    train_folder,
    valtest_folder,
)


@pytest.fixture(scope="module")
def painted_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return painted_sample_video(tmp_path_factory)


@pytest.fixture
def train_root(tmp_path: Path, sample_dir: Path, painted_video: Path) -> Path:
    return train_folder(tmp_path, sample_dir, painted_video)


def manual_masks_by_id(masks: dict[tuple[str, int], np.ndarray]) -> dict[int, np.ndarray]:
    return {masklet_id: mask for (kind, masklet_id), mask in masks.items() if kind == "manual"}


def test_train_folder_is_indexed_recursively(train_root: Path, painted_video: Path) -> None:
    dataset = Dataset(train_root)
    assert (dataset.layout, dataset.video_ids, len(dataset)) == ("train", [VIDEO_ID], 1)
    assert VIDEO_ID in dataset and "sav_000002" not in dataset
    assert dataset.video_path(VIDEO_ID).resolve() == painted_video.resolve()
    annotations = dataset.annotations(VIDEO_ID)
    assert (len(annotations.manual), len(annotations.auto)) == (5, 9)
    assert dataset.frame_count(VIDEO_ID) == 483


def test_the_frame_count_is_demuxed_once_per_video(train_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counted = []
    count_frames = VideoReader.count_frames
    monkeypatch.setattr(VideoReader, "count_frames", lambda reader: counted.append(1) or count_frames(reader))
    dataset = Dataset(train_root)
    assert dataset.check_frame_counts(VIDEO_ID) == math.ceil(483 / 4)
    assert dataset.frame_count(VIDEO_ID) == 483
    assert len(counted) == 1


def test_annotation_k_lines_up_with_video_frame_4k(train_root: Path) -> None:
    pairs = list(Dataset(train_root).annotated_frames(VIDEO_ID, type="manual"))
    assert [k for k, _, _ in pairs] == list(range(math.ceil(483 / 4)))
    assert all(rgb.shape == (848, 480, 3) for _, rgb, _ in pairs)
    assert all(set(masks) == {("manual", i) for i in range(5)} for _, _, masks in pairs)
    mismatched = [
        k for k, rgb, masks in pairs if not painted_colours_match(rgb, manual_masks_by_id(masks), k)
    ]
    assert mismatched == []


def test_an_off_by_one_pairing_would_fail_the_check(train_root: Path) -> None:
    """The alignment check above has teeth: frame 4k+1, 4k-4 or annotation k+1 do not match."""
    dataset = Dataset(train_root)
    annotations = dataset.annotations(VIDEO_ID)
    frames = dict(dataset.frames(VIDEO_ID, step=1, start=36, stop=46))
    manual = {m.id: m for m in annotations.manual}
    for k in (10, 11):
        masks_k = {i: m.mask(k) for i, m in manual.items()}
        masks_next = {i: m.mask(k + 1) for i, m in manual.items()}
        assert painted_colours_match(frames[4 * k], masks_k, k)
        assert not painted_colours_match(frames[4 * k + 1], masks_k, k)
        assert not painted_colours_match(frames[4 * k - 4], masks_k, k)
        assert not painted_colours_match(frames[4 * k], masks_next, k + 1)


def test_window_and_selection(train_root: Path) -> None:
    window = list(
        Dataset(train_root).annotated_frames(VIDEO_ID, type="auto", ids=[2, 5], start=100, stop=104)
    )
    assert [k for k, _, _ in window] == [100, 101, 102, 103]
    assert all(set(masks) == {("auto", 2), ("auto", 5)} for _, _, masks in window)


def test_frames_step_four_are_the_annotated_frames(train_root: Path) -> None:
    indices = [index for index, _ in Dataset(train_root).frames(VIDEO_ID, step=4)]
    assert indices == list(range(0, 483, 4))


def test_frame_count_mismatch_names_both_numbers(
    tmp_path: Path, sample_dir: Path, painted_video: Path
) -> None:
    root = train_folder(
        tmp_path, sample_dir, painted_video, edit=lambda data: data.update(video_frame_count=484.0)
    )
    with pytest.raises(SavkitError, match=r"483 frames but video_frame_count is 484.*lenient"):
        next(Dataset(root).annotated_frames(VIDEO_ID))


def drop_last_annotated_frame(data: dict) -> None:
    data["masklet"].pop()
    if data["masklet_type"][0] == "auto":
        data["masklet_stability_score"].pop()


def test_short_masklet_is_an_error_or_a_warning_when_lenient(
    tmp_path: Path, sample_dir: Path, painted_video: Path
) -> None:
    root = train_folder(tmp_path, sample_dir, painted_video, edit=drop_last_annotated_frame)
    with pytest.raises(
        SavkitError, match=r"manual masklet 0 has 120 annotated frames but ceil\(483 / 4\) = 121"
    ):
        next(Dataset(root).annotated_frames(VIDEO_ID))
    with pytest.warns(FrameCountWarning, match="has 120 annotated frames"):
        ks = [k for k, _, _ in Dataset(root, lenient=True).annotated_frames(VIDEO_ID, start=115)]
    assert ks == [115, 116, 117, 118, 119]


def test_masklet_lengths_are_checked_against_the_metadata_without_video(
    tmp_path: Path, sample_dir: Path
) -> None:
    dataset = Dataset(train_folder(tmp_path, sample_dir, video=None, edit=drop_last_annotated_frame))
    with pytest.raises(
        SavkitError, match=r"sav_000/sav_000001: manual masklet 0 has 120 .* ceil\(483 / 4\) = 121"
    ):
        dataset.check_frame_counts(VIDEO_ID)
    assert Dataset(train_folder(tmp_path / "ok", sample_dir, video=None)).check_frame_counts(VIDEO_ID) == 121


def test_a_video_of_another_size_is_an_error_even_when_lenient(tmp_path: Path, sample_dir: Path) -> None:
    small = write_video(tmp_path / "small.mp4", (index_frame(i) for i in range(483)), preset="ultrafast")
    root = train_folder(tmp_path / "data", sample_dir, video=tmp_path / "small.mp4")
    assert small == 483
    with pytest.raises(SavkitError, match=r"frames are 80x48 but the masks are 480x848"):
        next(Dataset(root, lenient=True).annotated_frames(VIDEO_ID))


def test_single_frame_access_matches_the_stream(train_root: Path) -> None:
    dataset = Dataset(train_root)
    streamed = dict(dataset.frames(VIDEO_ID, start=300, stop=302))
    assert all(np.array_equal(dataset.frame(VIDEO_ID, i), streamed[i]) for i in (301, 300))


def test_unknown_video_id_suggests_and_lists(train_root: Path) -> None:
    with pytest.raises(
        SavkitError, match=r"'sav_00001' is not in .*1 videos: sav_000001.*did you mean 'sav_000001'\?"
    ):
        Dataset(train_root).annotations("sav_00001")


def test_missing_mp4_keeps_annotations_but_not_frames(tmp_path: Path, sample_dir: Path) -> None:
    dataset = Dataset(train_folder(tmp_path, sample_dir, video=None))
    assert dataset.video_path(VIDEO_ID) is None
    assert len(dataset.annotations(VIDEO_ID).masklets) == 14
    with pytest.raises(SavkitError, match=r"no video frames for 'sav_000001': expected sav_000001.mp4"):
        next(dataset.annotated_frames(VIDEO_ID))


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SavkitError, match="not a folder"):
        Dataset(tmp_path / "missing")


def test_valtest_layout_pairs_jpeg_4k_with_png_4k(tmp_path: Path) -> None:
    split, masks = valtest_folder(tmp_path)
    for root in (split, split / "Annotations_6fps"):
        dataset = Dataset(root)
        assert (dataset.layout, dataset.video_ids, dataset.frame_count("vid")) == ("valtest", ["vid"], 11)
        pairs = list(dataset.annotated_frames("vid"))
        assert [(k, read_index(rgb)) for k, rgb, _ in pairs] == [(0, 0), (1, 4), (2, 8)]
        assert all(np.array_equal(m[("manual", 1)], masks[k].astype(bool)) for k, _, m in pairs)
    assert [i for i, _ in Dataset(split).frames("vid", step=3, start=1)] == [1, 4, 7, 10]
    assert read_index(Dataset(split).frame("vid", 9)) == 9


def test_an_unreadable_first_jpeg_is_a_savkit_error(tmp_path: Path) -> None:
    split, _ = valtest_folder(tmp_path)
    (split / "JPEGImages_24fps" / "vid" / "00000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SavkitError, match=r"00000\.jpg: not a readable JPEG .*re-download the frames"):
        Dataset(split).frame_count("vid")
    for png in (split / "Annotations_6fps" / "vid" / "001").glob("*.png"):
        png.unlink()  # without masks the reader takes the video size from the first JPEG
    with pytest.raises(SavkitError, match=r"00000\.jpg: not a readable JPEG .*re-download the frames"):
        read_valtest_video(split, "vid")


def test_valtest_frames_are_the_jpegs_named_by_index(tmp_path: Path) -> None:
    split, _ = valtest_folder(tmp_path, frames=11)
    Image.fromarray(index_frame(0)).save(split / "JPEGImages_24fps" / "vid" / "cover.jpg")
    dataset = Dataset(split)
    assert (dataset.frame_count("vid"), dataset.annotations("vid").frame_count) == (11, 11)
    assert dataset.check_frame_counts("vid") == 3


def test_valtest_frame_count_not_matching_the_annotations(tmp_path: Path) -> None:
    split, _ = valtest_folder(tmp_path, frames=11)
    for i in (8, 9, 10):
        (split / "JPEGImages_24fps" / "vid" / f"{i:05d}.jpg").unlink()
    with pytest.raises(SavkitError, match=r"manual masklet 1 has 3 annotated frames but ceil\(8 / 4\) = 2"):
        next(Dataset(split).annotated_frames("vid"))
