"""Every PNG encoding a tool can write, scored as the references score it: the official SA-V evaluator's reading
(sam2 ``get_gt_and_pred`` + vos-benchmark's ``Evaluator``) for per-object masks, vos-benchmark's ``VideoEvaluator``
for DAVIS-layout label images. Where the reference crashes or rejects a file, savkit gives one line and exit code 2.

Each encoding is tried on the GT side, on the prediction side and on both, over every pair of empty, full,
one-pixel and normal masks."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import png as pypng
import pytest
from PIL import Image

from evaldata import official_sav_scores
from savkit.cli import main
from savkit.errors import SavkitError
from savkit.eval import EvalOptions, evaluate
from savkit.eval.masks import pixels_per_id, present_ids, read_binary_mask, read_label_mask

SHAPE = (20, 30)
KINDS = ("empty", "full", "pixel", "normal")

Writer = Callable[[Path, np.ndarray], None]


def pypng_writer(**options) -> Writer:
    """pypng (any bit depth, interlacing, tRNS); every colour channel holds the sample, alpha is opaque."""

    def write(path: Path, samples: np.ndarray) -> None:
        if "palette" not in options:
            planes = [samples] * (1 if options.get("greyscale") else 3)
            if options.get("alpha"):
                planes.append(np.full_like(samples, (1 << options["bitdepth"]) - 1))  # opaque
            samples = np.stack(planes, axis=2)
        rows = samples.reshape(samples.shape[0], -1).astype(int).tolist()
        buffer = io.BytesIO()
        pypng.Writer(width=samples.shape[1], height=samples.shape[0], **options).write(buffer, rows)
        path.write_bytes(buffer.getvalue())

    return write


def pillow_writer(mode: str, **save_options) -> Writer:
    def write(path: Path, samples: np.ndarray) -> None:
        if mode == "1":
            image = Image.fromarray(samples.astype(bool))
        elif mode == "I;16":
            image = Image.fromarray(samples.astype(np.uint16))
        elif mode in ("LA", "RGB", "RGBA"):
            image = Image.fromarray(np.repeat(samples[..., None], len(mode), axis=2).astype(np.uint8), mode)
        else:
            pixels = np.ascontiguousarray(samples, dtype=np.uint8)
            image = Image.frombytes(mode, (samples.shape[1], samples.shape[0]), pixels.tobytes())
            if mode == "P":
                image.putpalette([0, 0, 0] + [255, 255, 255] * 255)
        image.save(path, **save_options)

    return write


def opencv_writer(dtype, *params: int, channels: int = 1) -> Writer:
    def write(path: Path, samples: np.ndarray) -> None:
        pixels = samples.astype(dtype)
        if channels > 1:
            pixels = np.repeat(pixels[..., None], channels, axis=2)
        assert cv2.imwrite(str(path), pixels, list(params))

    return write


def palette(depth: int, transparent: bool = False) -> list[tuple]:
    colours = [(i % 256, (7 * i) % 256, (13 * i) % 256) for i in range(1 << depth)]
    if not transparent:
        return colours
    return [(*colours[0], 0)] + [(*c, 255) for c in colours[1:]]  # index 0 transparent: a tRNS chunk


#: name: (writer, background value, foreground value, whether the official accepts the file)
ENCODINGS: dict[str, tuple[Writer, int, int, bool]] = {
    "grey 1-bit": (pypng_writer(greyscale=True, bitdepth=1), 0, 1, True),
    "grey 2-bit": (pypng_writer(greyscale=True, bitdepth=2), 0, 3, True),
    "grey 2-bit value 1": (pypng_writer(greyscale=True, bitdepth=2), 0, 1, True),
    "grey 4-bit": (pypng_writer(greyscale=True, bitdepth=4), 0, 15, True),
    "grey 4-bit value 5": (pypng_writer(greyscale=True, bitdepth=4), 0, 5, True),
    "grey 8-bit 0/255": (pillow_writer("L"), 0, 255, True),
    "grey 8-bit 0/1": (pillow_writer("L"), 0, 1, True),
    "grey 8-bit 0/77": (pillow_writer("L"), 0, 77, True),
    "grey 8-bit two non-zero values": (pillow_writer("L"), 3, 9, True),
    "grey 8-bit tRNS": (pypng_writer(greyscale=True, bitdepth=8, transparent=0), 0, 255, True),
    "grey 16-bit 0/65535": (pypng_writer(greyscale=True, bitdepth=16), 0, 65535, True),
    "grey 16-bit 0/1": (pypng_writer(greyscale=True, bitdepth=16), 0, 1, True),
    "grey 16-bit 0/300": (pillow_writer("I;16"), 0, 300, True),
    "grey 1-bit interlaced": (pypng_writer(greyscale=True, bitdepth=1, interlace=True), 0, 1, True),
    "grey 8-bit interlaced": (pypng_writer(greyscale=True, bitdepth=8, interlace=True), 0, 255, True),
    "grey 16-bit interlaced": (pypng_writer(greyscale=True, bitdepth=16, interlace=True), 0, 9, True),
    "palette 8-bit index 1": (pillow_writer("P"), 0, 1, True),
    "palette 8-bit index 7": (pillow_writer("P"), 0, 7, True),
    "palette 8-bit index 255": (pillow_writer("P"), 0, 255, True),
    "palette index 0 as object on 5": (pillow_writer("P"), 5, 0, True),
    "palette 1-bit": (pypng_writer(palette=palette(1), bitdepth=1), 0, 1, True),
    "palette 2-bit index 3": (pypng_writer(palette=palette(2), bitdepth=2), 0, 3, True),
    "palette 4-bit index 9": (pypng_writer(palette=palette(4), bitdepth=4), 0, 9, True),
    "palette tRNS": (pypng_writer(palette=palette(8, transparent=True), bitdepth=8), 0, 4, True),
    "palette interlaced": (pypng_writer(palette=palette(8), bitdepth=8, interlace=True), 0, 2, True),
    "Pillow mode 1 (bool array)": (pillow_writer("1"), 0, 1, True),
    "Pillow optimize grey": (pillow_writer("L", optimize=True), 0, 255, True),
    "Pillow optimize palette": (pillow_writer("P", optimize=True), 0, 1, True),
    "OpenCV uint8 0/255": (opencv_writer(np.uint8), 0, 255, True),
    "OpenCV uint16 0/65535": (opencv_writer(np.uint16), 0, 65535, True),
    "OpenCV uint16 0/1": (opencv_writer(np.uint16), 0, 1, True),
    "OpenCV bilevel": (opencv_writer(np.uint8, cv2.IMWRITE_PNG_BILEVEL, 1), 0, 255, True),
    "grey+alpha": (pillow_writer("LA"), 0, 255, False),
    "grey+alpha 16-bit": (pypng_writer(greyscale=True, alpha=True, bitdepth=16), 0, 65535, False),
    "RGB": (pillow_writer("RGB"), 0, 255, False),
    "RGB 16-bit": (pypng_writer(greyscale=False, bitdepth=16), 0, 65535, False),
    "RGBA": (pillow_writer("RGBA"), 0, 255, False),
    "OpenCV BGR": (opencv_writer(np.uint8, channels=3), 0, 255, False),
}

STANDARD: tuple[Writer, int, int, bool] = ENCODINGS["grey 8-bit 0/255"]


def mask_of(kind: str, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    if kind == "full":
        mask[:] = True
    elif kind == "pixel":
        mask[rng.integers(0, SHAPE[0]), rng.integers(0, SHAPE[1])] = True
    elif kind == "normal":
        y, x = rng.integers(0, SHAPE[0] - 4), rng.integers(0, SHAPE[1] - 4)
        mask[y : y + rng.integers(3, 12), x : x + rng.integers(3, 15)] = True
    return mask


def write_binary(path: Path, mask: np.ndarray, encoding: tuple[Writer, int, int, bool]) -> None:
    writer, background, foreground, _ = encoding
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(path, np.where(mask, foreground, background))


def make_encoded_set(root: Path, name: str, seed: int = 0) -> tuple[Path, Path]:
    """One video, three objects: GT in the encoding, prediction in it, both in it; the other side 0/255 grey.

    Each object has one frame per (GT kind, predicted kind) pair, 16 in all."""
    rng = np.random.default_rng(seed)
    encoding = ENCODINGS[name]
    sides = {"000": (encoding, STANDARD), "001": (STANDARD, encoding), "002": (encoding, encoding)}
    for obj, (gt_encoding, pred_encoding) in sides.items():
        for k, (gt_kind, pred_kind) in enumerate(itertools.product(KINDS, KINDS)):
            gt = mask_of(gt_kind, rng)
            pred = (
                gt ^ (rng.random(SHAPE) < 0.04)
                if gt_kind == pred_kind == "normal"
                else mask_of(pred_kind, rng)
            )
            write_binary(root / "gt" / "v00" / obj / f"{4 * k:05d}.png", gt, gt_encoding)
            write_binary(root / "pred" / "v00" / obj / f"{4 * k:05d}.png", pred, pred_encoding)
    return root / "gt", root / "pred"


def savkit_scores(gt: Path, pred: Path) -> dict:
    report = evaluate(gt, pred, EvalOptions(skip_first_and_last=False))
    return {(o.video, o.object): (o.stats["J"], o.stats["F"]) for o in report.objects}


@pytest.mark.parametrize("name", sorted(n for n, e in ENCODINGS.items() if e[3]))
def test_accepted_encodings_score_as_the_official(tmp_path, name):
    gt, pred = make_encoded_set(tmp_path, name)
    reference = official_sav_scores(gt, pred, skip_first_and_last=False)
    ours = savkit_scores(gt, pred)
    assert ours.keys() == reference.keys() == {("v00", "000"), ("v00", "001"), ("v00", "002")}
    for key, (j, f) in reference.items():
        assert ours[key] == pytest.approx((j, f), abs=1e-9), key


@pytest.mark.parametrize("name", sorted(n for n, e in ENCODINGS.items() if not e[3]))
def test_encodings_the_official_rejects_are_one_line(tmp_path, capsys, name):
    gt, pred = make_encoded_set(tmp_path, name)
    with pytest.raises(AssertionError):
        official_sav_scores(gt, pred, skip_first_and_last=False)
    code = main(["eval", "--gt_root", str(gt), "--pred_root", str(pred), "-q", "-n", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "single-channel" in err[0], err
    assert not (pred / "results.csv").exists()


@pytest.mark.parametrize("name", ["grey 16-bit 0/65535", "OpenCV uint16 0/1", "grey 2-bit", "palette 1-bit"])
@pytest.mark.parametrize("kind", KINDS)
def test_binary_mask_is_value_above_zero(tmp_path, name, kind):
    mask = mask_of(kind, np.random.default_rng(1))
    path = tmp_path / "m.png"
    write_binary(path, mask, ENCODINGS[name])
    assert np.array_equal(read_binary_mask(path), np.array(Image.open(path)) > 0)
    assert np.array_equal(read_binary_mask(path), mask)


def test_all_empty_16_bit_gt_object_is_detected(tmp_path):
    """The official crashes on an object whose GT is empty in every frame; savkit warns, whatever the bit depth."""
    gt, pred = make_encoded_set(tmp_path, "OpenCV uint16 0/65535")
    for path in (gt / "v00" / "000").iterdir():
        write_binary(path, np.zeros(SHAPE, bool), ENCODINGS["OpenCV uint16 0/65535"])
    report = evaluate(gt, pred, EvalOptions(skip_first_and_last=False))
    assert any("v00/000: the GT is empty in every evaluated frame" in w for w in report.warnings)


def test_three_values_are_rejected_like_the_official(tmp_path):
    gt, pred = make_encoded_set(tmp_path, "grey 8-bit 0/255")
    path = gt / "v00" / "002" / "00020.png"
    Image.fromarray(np.arange(600, dtype=np.uint8).reshape(SHAPE) % 3).save(path)
    with pytest.raises(AssertionError, match="more than 1 object"):
        official_sav_scores(gt, pred, skip_first_and_last=False)
    with pytest.raises(SavkitError, match="more than one object"):
        read_binary_mask(path)


@pytest.mark.parametrize(
    "values", [(0, 255), (0, 7), (255,), (0,), (4, 9), (0, 3, 9), (4, 9, 11), (0, 1, 255), (1, 2)]
)
def test_binary_masks_of_any_two_values_as_the_official_decides(tmp_path, values):
    """At most two distinct values, the object being value > 0 (two non-zero values: a full mask); three values
    are refused. Also for the 0/255 masks savkit turns into 0/1 in the decoded array itself."""
    rng = np.random.default_rng(len(values))
    pixels = np.array(values, np.uint8)[rng.integers(0, len(values), (23, 31))]
    path = tmp_path / "mask.png"
    Image.fromarray(pixels).save(path)
    if len(np.unique(pixels)) > 2:
        with pytest.raises(SavkitError, match="more than one object"):
            read_binary_mask(path)
    else:
        assert np.array_equal(read_binary_mask(path), pixels > 0)


@pytest.mark.parametrize("values", [(0,), (0, 1), (0, 2, 7), (3, 32), (0, 1, 33), (0, 5, 255), (200, 255)])
def test_ids_and_their_pixels_as_a_histogram_counts_them(values):
    """Few ids (counted one by one) and large ones (a histogram of the box of non-zero pixels), on views too."""
    rng = np.random.default_rng(sum(values))
    labels = np.array(values, np.uint8)[rng.integers(0, len(values), (37, 53))]
    for image in (labels, labels[3:, 1:], labels[::2]):
        counts = np.bincount(image.ravel(), minlength=256)
        expected = {int(i): int(counts[i]) for i in np.flatnonzero(counts) if i}
        assert pixels_per_id(image) == expected
        assert present_ids(image) == sorted(expected)


#: DAVIS-layout label images: name: (writer, ids the frame may hold)
LABEL_ENCODINGS: dict[str, tuple[Writer, tuple[int, ...]]] = {
    "palette 8-bit": (pillow_writer("P"), (1, 2, 3)),
    "palette 2-bit": (pypng_writer(palette=palette(2), bitdepth=2), (1, 2, 3)),
    "palette 4-bit interlaced": (pypng_writer(palette=palette(4), bitdepth=4, interlace=True), (1, 5, 9)),
    "grey 8-bit": (pillow_writer("L"), (1, 2, 200)),
    "grey 2-bit": (pypng_writer(greyscale=True, bitdepth=2), (1, 2)),
    "grey 1-bit": (pypng_writer(greyscale=True, bitdepth=1), (1,)),
    "Pillow mode 1 (bool array)": (pillow_writer("1"), (1,)),
    "grey 16-bit": (pypng_writer(greyscale=True, bitdepth=16), (1, 2, 1000)),
    "OpenCV uint16": (opencv_writer(np.uint16), (1, 3, 60000)),
}


def make_label_set(root: Path, name: str, seed: int = 0) -> tuple[Path, Path]:
    """Three DAVIS-layout videos: GT in the encoding, prediction in it, both in it; the other side 8-bit palette."""
    rng = np.random.default_rng(seed)
    writer, ids = LABEL_ENCODINGS[name]
    standard = LABEL_ENCODINGS["palette 8-bit"][0]
    for video, (gt_writer, pred_writer) in {"a": (writer, standard), "b": (standard, writer)}.items():
        for k, kinds in enumerate(itertools.product(KINDS, KINDS)):
            gt, pred = np.zeros(SHAPE, np.int64), np.zeros(SHAPE, np.int64)
            for object_id, (gt_kind, pred_kind) in zip(ids, [kinds, kinds[::-1], kinds], strict=False):
                gt[mask_of(gt_kind, rng)] = object_id
                pred[mask_of(pred_kind, rng)] = object_id
            for side, labels, write in (("gt", gt, gt_writer), ("pred", pred, pred_writer)):
                path = root / side / video / f"{4 * k:05d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                write(path, labels)
    return root / "gt", root / "pred"


@pytest.mark.parametrize("name", sorted(LABEL_ENCODINGS))
def test_label_encodings_score_as_vos_benchmark(tmp_path, name):
    gt, pred = make_label_set(tmp_path, name)
    reference = official_sav_scores(gt, pred, skip_first_and_last=False)
    ours = savkit_scores(gt, pred)
    assert ours.keys() == reference.keys() and reference
    for key, (j, f) in reference.items():
        assert ours[key] == pytest.approx((j, f), abs=1e-9), key


@pytest.mark.parametrize("name", sorted(LABEL_ENCODINGS))
def test_label_mask_holds_the_ids_pillow_gives(tmp_path, name):
    writer, ids = LABEL_ENCODINGS[name]
    labels = np.zeros(SHAPE, np.int64)
    labels[2:9, 3:12], labels[10:15, 5:25] = ids[0], ids[-1]
    path = tmp_path / "labels.png"
    writer(path, labels)
    assert np.array_equal(read_label_mask(path), np.array(Image.open(path)).astype(np.int64))
