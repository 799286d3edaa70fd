"""The annotation model: real-sample round trips, RLE helpers, metadata recompute, the val/test reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotation_samples import deny_listing, make_valtest, random_masks
from savkit.annotations import (
    Masklet,
    metadata_mismatches,
    read_sav_json,
    read_train_video,
    read_valtest_video,
    recompute_metadata,
    rle,
    write_sav_json,
)
from savkit.errors import SavkitError
from savkit.io.png import write_png

TYPES = ["manual", "auto"]


@pytest.mark.parametrize("masklet_type", TYPES)
def test_real_sample_round_trip_gives_back_the_released_file(
    sample_dir: Path, tmp_path: Path, masklet_type: str
):
    source = sample_dir / f"sav_000001_{masklet_type}.json"
    annotations = read_sav_json(source)
    out = tmp_path / source.name
    write_sav_json(out, annotations, masklet_type)
    assert json.loads(out.read_text()) == json.loads(source.read_text())
    assert out.read_bytes() == source.read_bytes()


def test_real_sample_model_fields(sample_dir: Path):
    video = read_train_video(sample_dir, "sav_000001")
    raw = {t: json.loads((sample_dir / f"sav_000001_{t}.json").read_text()) for t in TYPES}
    assert (video.height, video.width, video.frame_count) == (848, 480, 483)
    assert [m.id for m in video.manual] == raw["manual"]["masklet_id"]
    assert [m.id for m in video.auto] == raw["auto"]["masklet_id"]
    assert video.masklets[: len(video.manual)] == video.manual
    assert video.num_annotated_frames == len(raw["manual"]["masklet"])
    auto_2 = video.auto[2]
    assert auto_2.stability_score == [frame[2] for frame in raw["auto"]["masklet_stability_score"]]
    assert video.manual[0].stability_score is None
    k = 40
    expected = rle.decode(raw["auto"]["masklet"][k][2])
    assert np.array_equal(auto_2.mask(k), expected)
    masks = video.masks(k, type="auto", ids=[2, 5])
    assert list(masks) == [("auto", 2), ("auto", 5)]
    assert np.array_equal(masks[("auto", 2)], expected)
    assert set(video.masks(k)) == {(m.type, m.id) for m in video.masklets}


def test_repr_is_a_short_summary_without_rle_strings(sample_dir: Path):
    video = read_train_video(sample_dir, "sav_000001")
    summary = repr(video)
    assert summary == (
        "VideoAnnotations(video_id='sav_000001', split='train', height=848, width=480, frame_count=483, "
        "duration=20.125, environment='Indoor', masklets: 5 manual, 9 auto)"
    )
    masklet = video.manual[3]
    assert repr(masklet) == (
        "Masklet(id=3, type='manual', annotated_frames=121, size_bucket='medium', "
        f"size_abs={masklet.size_abs:.1f}, first_appeared_frame=113, visibility_changes=0)"
    )
    shown = repr(video.masklets)  # a notebook cell showing every masklet: one short line each
    assert "counts" not in shown and len(shown) < 200 * len(video.masklets)


def test_read_train_video_from_json_paths_and_missing_id(sample_dir: Path):
    video = read_train_video([sample_dir / "sav_000001_auto.json"], "sav_000001")
    assert [m.type for m in video.masklets] == ["auto"] * 9
    with pytest.raises(SavkitError, match="sav_999999"):
        read_train_video(sample_dir, "sav_999999")


def test_masklet_areas_and_bboxes_match_decoded_masks(sample_dir: Path):
    masklet = read_sav_json(sample_dir / "sav_000001_manual.json").masklets[0]
    decoded = [masklet.mask(k) for k in range(len(masklet))]
    assert masklet.areas().tolist() == [int(m.sum()) for m in decoded]
    for mask, box in zip(decoded, masklet.bboxes(), strict=True):
        ys, xs = np.nonzero(mask)
        expected = (
            [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] if xs.size else [0] * 4
        )
        assert box.tolist() == expected
    with pytest.raises(SavkitError, match="out of range"):
        masklet.mask(len(masklet))


@pytest.mark.parametrize("order", ["C", "F"])
def test_rle_round_trip_for_c_and_fortran_input(order: str):
    for mask in random_masks(8):
        array = np.array(mask, order=order)
        encoded = rle.encode(array)
        assert isinstance(encoded["counts"], str)
        assert encoded["size"] == list(mask.shape)
        decoded = rle.decode(encoded)
        assert decoded.dtype == bool and decoded.flags.c_contiguous
        assert np.array_equal(decoded, mask)
        assert encoded == rle.encode(np.asfortranarray(mask))


def test_rle_encode_treats_any_nonzero_value_as_inside():
    mask = random_masks(1)[0]
    assert rle.encode(mask.astype(np.uint8) * 255) == rle.encode(mask)
    with pytest.raises(SavkitError):
        rle.encode(np.zeros((2, 3, 4)))


def test_area_and_bbox_of_300_rles_equal_decoded_values():
    masks = random_masks(300, seed=3)
    rles = [rle.encode(m) for m in masks]
    assert rle.area(rles).tolist() == [int(m.sum()) for m in masks]
    assert rle.area(rles).dtype == np.int64
    assert rle.bbox(rles).shape == (300, 4)
    assert rle.area([]).shape == (0,)


@pytest.mark.parametrize("masklet_type", TYPES)
def test_recomputed_metadata_equals_the_stored_values(sample_dir: Path, masklet_type: str):
    annotations = read_sav_json(sample_dir / f"sav_000001_{masklet_type}.json")
    for masklet in annotations.masklets:
        assert metadata_mismatches(masklet, annotations.height * annotations.width) == []


def test_recompute_metadata_on_a_hand_made_masklet():
    visible = [False, False, True, True, False, True]
    areas = [0, 0, 40, 50, 0, 1100]
    masks = np.zeros((len(areas), 30, 40), dtype=bool)
    for mask, area in zip(masks, areas, strict=True):
        mask.reshape(-1)[:area] = True
    rles = [rle.encode(m) for m in masks]
    manual = recompute_metadata(rles, "manual", 30 * 40)
    assert manual.first_appeared_frame == 2
    assert manual.visibility_changes == 2  # visible -> invisible -> visible, the first appearance not counted
    assert manual.frame_count == len(visible)
    assert manual.size_abs == pytest.approx((40 + 50 + 1100) / 3)
    assert manual.size_rel == pytest.approx((40 + 50 + 1100) / 3 / 1200)
    assert manual.size_bucket == "small"
    assert recompute_metadata(rles, "auto", 1200).first_appeared_frame == 0
    assert recompute_metadata(rles[5:], "manual", 1200).size_bucket == "medium"


def test_metadata_mismatch_names_the_changed_field(sample_dir: Path):
    annotations = read_sav_json(sample_dir / "sav_000001_manual.json")
    masklet = annotations.masklets[3]
    masklet.visibility_changes += 1
    masklet.size_abs *= 1 + 1e-6
    mismatches = metadata_mismatches(masklet, annotations.height * annotations.width)
    assert [m.field for m in mismatches] == ["size_abs", "visibility_changes"]
    assert mismatches[1].recomputed == masklet.visibility_changes - 1


def test_write_then_read_a_generated_masklet(tmp_path: Path, sample_dir: Path):
    annotations = read_sav_json(sample_dir / "sav_000001_auto.json")
    masks = random_masks(annotations.num_annotated_frames, annotations.height, annotations.width, seed=5)
    rles = [rle.encode(m) for m in masks]
    metadata = recompute_metadata(rles, "auto", annotations.height * annotations.width)
    scores = [0.5] * len(rles)
    extra = Masklet(
        id=42, type="auto", rles=rles, edited_frame_count=0, stability_score=scores, **vars(metadata)
    )
    annotations.masklets.append(extra)
    write_sav_json(tmp_path / "x_auto.json", annotations, "auto")
    back = read_sav_json(tmp_path / "x_auto.json")
    assert back == annotations
    assert np.array_equal(back.masklets[-1].mask(7), masks[7])


def test_truncated_or_missing_or_malformed_json_is_a_savkit_error(tmp_path: Path, sample_dir: Path):
    text = (sample_dir / "sav_000001_manual.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(SavkitError, match="not valid JSON"):
        read_sav_json(tmp_path / "cut.json")
    with pytest.raises(SavkitError, match="no such file"):
        read_sav_json(tmp_path / "absent.json")
    data = json.loads(text)
    data["masklet_size_abs"] = data["masklet_size_abs"][:-1]
    (tmp_path / "short.json").write_text(json.dumps(data))
    with pytest.raises(SavkitError, match="masklet_size_abs length"):
        read_sav_json(tmp_path / "short.json")


def test_valtest_reader_on_a_generated_folder(tmp_path: Path):
    generated = random_masks(6, height=12, width=20, seed=9).astype(np.uint8)
    masks = {0: {0: generated[1], 4: generated[2], 8: generated[3]}, 3: {0: generated[4], 4: generated[5]}}
    root = tmp_path / "sav_val"
    make_valtest(root, masks, num_jpegs=10, size=(12, 20))
    for source in (root, root / "Annotations_6fps"):
        video = read_valtest_video(source, "v1")
        assert (video.split, video.frame_count, video.height, video.width) == ("val", 10, 12, 20)
        assert [(m.id, m.type, len(m)) for m in video.masklets] == [(0, "manual", 3), (3, "manual", 3)]
        for masklet in video.masklets:
            for k in range(3):
                expected = masks[masklet.id].get(4 * k, np.zeros((12, 20), np.uint8))
                assert np.array_equal(masklet.mask(k), expected.astype(bool))
        assert metadata_mismatches(video.masklets[1], 12 * 20) == []
    with pytest.raises(SavkitError, match="v2"):
        read_valtest_video(root, "v2")


def test_valtest_reader_size_from_jpegs_and_bad_frame_names(tmp_path: Path):
    root = tmp_path / "sav_test"
    make_valtest(root, {}, num_jpegs=3, size=(14, 9))
    video = read_valtest_video(root, "v1")
    assert (video.split, video.height, video.width, video.masklets) == ("test", 14, 9, [])
    write_png(root / "Annotations_6fps" / "v1" / "000" / "00003.png", np.zeros((14, 9), np.uint8))
    with pytest.raises(SavkitError, match="multiple of 4"):
        read_valtest_video(root, "v1")


def test_valtest_object_folder_that_cannot_be_listed_is_an_error(tmp_path: Path, monkeypatch):
    """Not an object without masks (a glob skips a folder it cannot list and finds no PNG)."""
    root = tmp_path / "sav_val"
    make_valtest(root, {0: {0: np.ones((4, 6), np.uint8)}, 1: {0: np.ones((4, 6), np.uint8)}}, 1, (4, 6))
    deny_listing(monkeypatch, root / "Annotations_6fps" / "v1" / "001")
    with pytest.raises(SavkitError, match=r"v1/001: cannot list the folder \(Permission denied\); check its"):
        read_valtest_video(root, "v1")


def test_corrupt_rle_counts_are_detected_before_decoding():
    masks = random_masks(20, seed=11)
    for mask in masks:
        encoded = rle.encode(mask)
        runs = rle.run_lengths(encoded["counts"])
        assert int(runs.sum()) == mask.size and int(runs[1::2].sum()) == int(mask.sum())
        assert rle.counts_problem(encoded) is None
    wider = rle.encode(np.ones((24, 18), dtype=bool))
    wrong = {"size": [24, 17], "counts": wider["counts"]}
    assert "24 x 17" in rle.counts_problem(wrong)
    with pytest.raises(SavkitError, match="corrupt RLE"):
        rle.decode(wrong)
    assert rle.counts_problem({"size": [24, 17], "counts": "ab\x7f"}) is not None
    good = [rle.encode(m) for m in masks]
    cut = {"size": good[3]["size"], "counts": good[3]["counts"][:-1]}
    batch = [good[0], wrong, {"size": [0, 0], "counts": ""}, cut, {"size": [2, 2], "counts": ""}, *good[1:]]
    assert rle.counts_problem(cut) is not None
    expected = [None, rle.counts_problem(wrong), None, rle.counts_problem(cut)]
    assert rle.counts_problems(batch) == [*expected, "runs cover 0 pixels, not 2 x 2 = 4", *[None] * 19]


def test_rle_checks_do_not_depend_on_how_the_strings_are_split_into_pieces(monkeypatch):
    rng = np.random.default_rng(5)
    batch = [rle.encode(m) for m in random_masks(30, 40, 33, seed=12)]
    for r in batch[::4]:
        cut = int(rng.integers(0, len(r["counts"]) + 1))
        r["counts"] = r["counts"][:cut] + "".join(chr(c) for c in rng.integers(40, 120, 3))
    whole = rle.counts_problems(batch)
    assert 0 < sum(p is not None for p in whole) <= 8
    for piece_chars in (1, 7, 100):
        monkeypatch.setattr(rle, "_PIECE_CHARS", piece_chars)
        assert rle.counts_problems(batch) == whole


def test_a_video_without_masklets_round_trips(tmp_path: Path, sample_dir: Path):
    annotations = read_sav_json(sample_dir / "sav_000001_auto.json")
    annotations.masklets = []
    write_sav_json(tmp_path / "empty_auto.json", annotations, "auto")
    data = json.loads((tmp_path / "empty_auto.json").read_text())
    assert (data["masklet_num"], len(data["masklet"]), data["masklet_stability_score"]) == (0, 121, [])
    assert read_sav_json(tmp_path / "empty_auto.json") == annotations
