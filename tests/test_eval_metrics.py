"""Per-frame J and F against vos-benchmark's Evaluator, the disk against scikit-image, and hand-worked cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.morphology import disk
from vos_benchmark.evaluator import Evaluator
from vos_benchmark.utils import _seg2bmap

from evaldata import EDGE_KINDS, random_mask
from savkit.eval.metrics import (
    boundary_map,
    count_matches,
    count_within_disk,
    decay,
    frame_parts,
    nonzero_crop,
    recall,
    region_j,
    score_frame,
    tolerance_disk,
)


@pytest.mark.parametrize("shape", [(480, 848), (1080, 1920), (848, 480), (1, 1), (1, 9), (9, 1), (37, 53)])
def test_tolerance_disk_is_scikit_image_disk(shape):
    radius = int(np.ceil(0.008 * np.linalg.norm(shape)))
    assert np.array_equal(tolerance_disk(*shape), disk(radius))


def test_radius_for_sav_sizes():
    assert tolerance_disk(480, 848).shape == (17, 17)  # r = 8
    assert tolerance_disk(1080, 1920).shape == (37, 37)  # r = 18


@pytest.mark.parametrize("seed", range(6))
def test_boundary_map_equals_seg2bmap(seed):
    rng = np.random.default_rng(seed)
    for kind in EDGE_KINDS:
        mask = random_mask(rng, (int(rng.integers(1, 40)), int(rng.integers(1, 40))), kind)
        assert np.array_equal(boundary_map(mask), _seg2bmap(mask))
        view = mask[::2, 1:]  # not contiguous, and down to one row or column
        if view.size:
            assert np.array_equal(boundary_map(view), _seg2bmap(view))


def _reference_frame(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float] | None:
    evaluator = Evaluator()
    evaluator.feed_frame(mask=pred, gt=gt)
    if True not in evaluator.object_iou:
        return None
    return evaluator.object_iou[True][0], evaluator.boundary_f[True][0]


@pytest.mark.parametrize("shape", [(480, 848), (60, 45), (7, 5), (1, 12), (12, 1)])
def test_score_frame_matches_vos_benchmark_on_random_and_edge_masks(shape):
    rng = np.random.default_rng(sum(shape))
    checked = 0
    for pred_kind in EDGE_KINDS:
        for gt_kind in EDGE_KINDS:
            pred, gt = random_mask(rng, shape, pred_kind), random_mask(rng, shape, gt_kind)
            reference = _reference_frame(pred, gt)
            j, f = score_frame(pred, gt, tolerance_disk(*shape))
            if reference is None:  # both empty: vos-benchmark scores nothing, savkit's rule is 1
                assert (j, f) == (1.0, 1.0)
                continue
            assert j == pytest.approx(reference[0], abs=1e-12)
            assert f == pytest.approx(reference[1], abs=1e-12)
            checked += 1
    assert checked >= 25


def test_hand_worked_single_pixels():
    # 5x5: r = ceil(0.008 * 7.07) = 1, disk(1) is a plus. A pixel at (1, 1) has the boundary pixels (0, 0), (0, 1),
    # (1, 0) and itself; a pixel at (1, 2) has (0, 1), (0, 2), (1, 1), (1, 2): every one within the plus of the
    # other set, so F = 1 although the masks do not overlap (J = 0).
    gt = np.zeros((5, 5), bool)
    gt[1, 1] = True
    beside = np.zeros_like(gt)
    beside[1, 2] = True
    assert score_frame(beside, gt, tolerance_disk(5, 5)) == (0.0, 1.0)
    # a pixel at (3, 3) has boundary pixels (2, 2), (2, 3), (3, 2), (3, 3): none within 1 of the GT's.
    far = np.zeros_like(gt)
    far[3, 3] = True
    assert score_frame(far, gt, tolerance_disk(5, 5)) == (0.0, 0.0)


def test_empty_prediction_scores_zero_and_empty_both_scores_one():
    gt = np.zeros((20, 20), bool)
    gt[5:9, 5:9] = True
    assert score_frame(np.zeros_like(gt), gt, tolerance_disk(20, 20)) == (0.0, 0.0)
    assert score_frame(gt, gt, tolerance_disk(20, 20)) == (1.0, 1.0)
    empty = np.zeros_like(gt)
    assert score_frame(empty, empty, tolerance_disk(20, 20)) == (1.0, 1.0)


def test_decay_hand_worked_and_past_255_frames():
    assert decay(np.array([1.0, 2, 3, 4, 5])) == pytest.approx(1.5 - 4.5)
    values = np.linspace(1, 0, 300)
    ids = (np.round(np.linspace(1, 300, 5) + 1e-10) - 1).astype(int)  # [0, 75, 150, 224, 299]
    expected = values[ids[0] : ids[1] + 1].mean() - values[ids[3] : ids[4] + 1].mean()
    assert decay(values) == pytest.approx(expected)
    assert decay(values) > 0.7


def test_recall_counts_frames_above_half():
    assert recall(np.array([0.5, 0.51, 0.9, 0.1])) == 0.5


@pytest.mark.parametrize("radius_shape", [(480, 848), (1080, 1920), (100, 100)])
@pytest.mark.parametrize("density", [0.0005, 0.003, 0.05])
def test_count_within_disk_equals_full_disk_dilation(radius_shape, density):
    """Sparse points at every distance from sparse targets exercise the sure, undecided and fallback branches."""
    disk_ = tolerance_disk(*radius_shape)
    rng = np.random.default_rng(int(density * 1e4))
    for _ in range(5):
        points = rng.random((120, 150)) < density
        targets = rng.random((120, 150)) < density
        expected = np.count_nonzero(points & cv2.dilate(targets.view(np.uint8), disk_).view(bool))
        assert count_within_disk(points, targets, disk_) == expected


@pytest.mark.parametrize(
    "size", [40, 400]
)  # small: many undecided pixels take the plain dilation; large: windows
def test_count_within_disk_on_a_ring_around_the_disk_edge(size):
    disk_ = tolerance_disk(480, 848)  # r = 8, inscribed square half-side 5
    targets = np.zeros((size, size), bool)
    targets[size // 2, size // 2] = True
    ys, xs = np.mgrid[:size, :size]
    chebyshev = np.maximum(abs(ys - size // 2), abs(xs - size // 2))
    points = (chebyshev >= 5) & (chebyshev <= 9)
    expected = np.count_nonzero(points & cv2.dilate(targets.view(np.uint8), disk_).view(bool))
    assert count_within_disk(points, targets, disk_) == expected
    assert 0 < expected < np.count_nonzero(points)


@pytest.mark.parametrize("radius", [0.3, 0.5, 0.72, 1.2, 2.5, 3.0, 7.2, 7.77, 15.36])
@pytest.mark.parametrize("size", [40, 400])  # small: the plain-dilation fallback; large: windows
def test_count_matches_equals_opencv_dilation_by_the_off_centre_disk(radius, size):
    """MOSEv2's disk of a non-integer radius is off-centre (even-sized for some radii, missing its own anchor for
    tiny ones): the square bounds and windows count exactly what OpenCV's dilation by it matches."""
    kernel = disk(radius).astype(np.uint8)
    rng = np.random.default_rng(int(radius * 100) + size)
    ys, xs = np.mgrid[:size, :size]
    ring = np.maximum(abs(ys - size // 2), abs(xs - size // 2)) <= int(radius) + 2
    for points, targets in (
        (ring, np.pad(np.ones((1, 1), bool), size // 2)[:size, :size]),
        (rng.random((size, size)) < 0.01, rng.random((size, size)) < 0.002),
        (rng.random((size, size)) < 0.2, rng.random((size, size)) < 0.05),
    ):
        expected = np.count_nonzero(points & cv2.dilate(targets.view(np.uint8), kernel).view(bool))
        assert count_matches(points, targets, radius) == expected


@pytest.mark.parametrize("shape", [(48, 64), (7, 5), (1, 12), (12, 1), (1, 1), (4, 1), (1, 4)])
def test_scores_on_the_nonzero_crop_equal_the_full_frame_ones(shape):
    """The protocols score each id on nonzero_crop's views: same J, F, counts and boundaries as on whole frames,
    with ids at the frame edges, covering the frame, absent from one side, and both images empty."""
    rng = np.random.default_rng(7)
    disk_ = tolerance_disk(*shape)
    for _ in range(40):
        gt, pred = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
        for labels in (gt, pred):
            for object_id in (1, 2, 255)[: int(rng.integers(0, 4))]:
                labels[random_mask(rng, shape, str(rng.choice(EDGE_KINDS)))] = object_id
        crop = nonzero_crop(gt, pred)
        assert gt[crop].size > 0
        outside = np.ones(shape, bool)
        outside[crop] = False
        assert not gt[outside].any() and not pred[outside].any()
        for object_id in (1, 2, 3):
            whole = (pred == object_id, gt == object_id)
            cropped = (pred[crop] == object_id, gt[crop] == object_id)
            assert score_frame(*cropped, disk_) == score_frame(*whole, disk_)
            assert region_j(*cropped) == score_frame(*whole, disk_)[0]
            a, b = frame_parts(*cropped), frame_parts(*whole)
            assert (a.intersection, a.union, a.gt_area) == (b.intersection, b.union, b.gt_area)
            assert [a.f(r) for r in (1.0, 2.5, 4.0)] == [b.f(r) for r in (1.0, 2.5, 4.0)]
