"""Hostile or odd input: declared sizes over the pixel limit, a prediction whose size differs from its GT, corrupt RLE
runs in the index, FIFOs where a file is expected. Each case is bounded and one clear error, never a hang."""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from annotation_samples import generated_masklet, write_train_json
from evaldata import make_sav_set, write_mask
from savkit.annotations import VideoAnnotations, read_sav_json, rle, write_sav_json
from savkit.annotations.sav_json import load_json
from savkit.cli import main
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.eval import EvalOptions, evaluate
from savkit.io.files import read_regular
from savkit.io.limits import DEFAULT_MAX_PIXELS, max_pixels
from savkit.io.png import decode_png, read_png
from savkit.validate import validate_paths


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(width: int, height: int, depth: int = 8, colour_type: int = 0, idat: bytes = b"") -> bytes:
    """A PNG whose header declares ``width`` x ``height``, with the given (possibly far too short) IDAT data."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    stream = zlib.compress(idat or b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", stream) + chunk(b"IEND", b"")


def compressed_counts(runs: list[int]) -> str:
    """COCO's compressed RLE string of some runs (any values, negative ones too): the encoder, written out."""
    out = []
    for i, value in enumerate(runs):
        x = value - runs[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


# ---------------------------------------------------------------------------------------------- the pixel limit


def test_pixel_limit_default_and_override(monkeypatch):
    monkeypatch.delenv("SAVKIT_MAX_PIXELS", raising=False)
    assert max_pixels() == DEFAULT_MAX_PIXELS == 1 << 28
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "12")
    assert max_pixels() == 12
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "lots")
    with pytest.raises(SavkitError, match="SAVKIT_MAX_PIXELS='lots' is not a positive whole number"):
        max_pixels()


def test_png_declaring_a_huge_size_is_refused_before_inflating():
    """The issue's repro, small: 100000 x 100000 at 1 bit would inflate to 1.2 GB."""
    data = png_bytes(100_000, 100_000, depth=1)
    assert len(data) < 200
    with pytest.raises(
        SavkitError, match=r"m.png: declared size 100000 x 100000 = 10,000,000,000 pixels is over"
    ):
        decode_png(data, "m.png")


def test_pixel_limit_applies_to_the_fallback_decoders_and_can_be_raised(monkeypatch):
    pixels = np.arange(20 * 20, dtype=np.uint16).reshape(20, 20)
    sixteen_bit = png_bytes(
        20, 20, depth=16, idat=b"".join(b"\0" + row.byteswap().tobytes() for row in pixels)
    )
    eight_bit = png_bytes(20, 20, idat=b"".join(b"\0" + bytes([7] * 20) for _ in range(20)))
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "399")
    for data in (sixteen_bit, eight_bit):  # Pillow's path and savkit's own
        with pytest.raises(SavkitError, match="400 pixels is over the limit of 399"):
            decode_png(data, "m.png")
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "400")
    assert np.array_equal(decode_png(sixteen_bit), pixels)
    assert np.array_equal(decode_png(eight_bit), np.full((20, 20), 7, np.uint8))


def test_read_png_checks_the_expected_size_before_decoding(tmp_path: Path):
    path = tmp_path / "m.png"
    path.write_bytes(png_bytes(30, 20, idat=b"not enough data"))  # would be "bad compressed data" if decoded
    with pytest.raises(SavkitError, match="m.png is 30x20, not 31x20 as its pair"):
        read_png(path, (20, 31))


def test_eval_prediction_of_another_size_fails_before_it_is_decoded(tmp_path: Path):
    gt_root, pred_root = make_sav_set(tmp_path, seed=1, videos=1, shape=(48, 64), frames=4)
    hostile = pred_root / "v00" / "000" / "00004.png"
    hostile.write_bytes(png_bytes(64, 4800, depth=1, idat=b"garbage"))
    with pytest.raises(
        SavkitError, match=r"shape mismatch: GT .*00004.png is 64x48 but prediction .* is 64x4800"
    ):
        evaluate(gt_root, pred_root, EvalOptions(skip_first_and_last=False))


def sav_json(path: Path, height: int, width: int) -> Path:
    """A train JSON of a 2-frame video with one masklet whose RLEs are of ``height`` x ``width``."""
    masklet = generated_masklet(0, "manual", 1, 8, 8)
    masklet.rles = [{"size": [height, width], "counts": compressed_counts([height * width])}]
    video = VideoAnnotations("v1", "train", 0.1, 2, height, width, None, [masklet])
    write_sav_json(path, video, "manual")
    return path


def test_json_declaring_a_huge_video_is_refused_before_decoding(tmp_path: Path):
    """The issue's repro: a 1 KB JSON declaring 46000 x 46000 masks (2 GB each once decoded)."""
    path = sav_json(tmp_path / "v1_manual.json", 46_000, 46_000)
    assert path.stat().st_size < 1000
    with pytest.raises(SavkitError, match=r"video_height x video_width: expected at most 268,435,456 pixels"):
        read_sav_json(path)
    with pytest.raises(SavkitError, match="found 46000 x 46000"):
        Dataset(tmp_path).annotations("v1")
    problems = validate_paths([path])
    assert [p.field for p in problems] == ["video_height x video_width"]
    assert problems[0].found == "46000 x 46000 = 2,116,000,000"


def test_rle_over_the_limit_is_not_decoded(monkeypatch):
    mask = rle.encode(np.ones((20, 20), bool))
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "399")
    with pytest.raises(
        SavkitError, match="RLE mask: declared size 20 x 20 = 400 pixels is over the limit of 399"
    ):
        rle.decode(mask)


def test_show_of_a_json_over_the_limit_is_one_line(tmp_path: Path, capsys, monkeypatch):
    sav_json(tmp_path / "v1_manual.json", 40, 50)
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "1999")
    code = main(["show", str(tmp_path), "v1", "--frame", "0", "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    last = err.splitlines()[-1]
    assert code == 2 and last.startswith("savkit show: error: ") and "40 x 50 = 2,000" in last
    assert not (tmp_path / "o.png").exists()


def test_export_masks_of_a_json_over_the_limit_fails_that_video(tmp_path: Path, capsys, monkeypatch):
    sav_json(tmp_path / "src" / "v1_manual.json", 40, 50)
    monkeypatch.setenv("SAVKIT_MAX_PIXELS", "1999")
    code = main(["export-masks", str(tmp_path / "src"), str(tmp_path / "out"), "--workers", "1", "-q"])
    assert code == 1 and "found 40 x 50 = 2,000" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("v1/**/*.png"))


# ---------------------------------------------------------------------------------------- corrupt runs in the index


@pytest.mark.parametrize(
    "counts, reason",
    [
        (compressed_counts([50, -8, 66]), "counts has a negative run"),
        (compressed_counts([50, 8]), "runs cover 58 pixels, not 12 x 9 = 108"),
        ("!!garbage", "counts is not a valid compressed RLE string"),
    ],
)
def test_index_lists_a_file_with_corrupt_runs_as_unreadable(tmp_path: Path, capsys, counts: str, reason: str):
    pytest.importorskip("duckdb")
    root = tmp_path / "root"
    root.mkdir()
    write_train_json(root / "good_manual.json")
    write_train_json(root / "bad_manual.json", counts)
    code = main(["index", str(root), "--out", str(tmp_path / "index"), "--workers", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"  bad_manual.json: corrupt RLE at masklet[0][1].counts: {reason}" in err
    assert "good_manual.json" not in err
    validate = validate_paths([root / "bad_manual.json"])
    assert ("masklet[0][1].counts", reason) in [(p.field, p.found) for p in validate]


# ------------------------------------------------------------------------------------- FIFOs where files are expected


def finishes(func: Callable[[], object], fifo: Path, seconds: float = 20) -> object:
    """Run ``func``; if it is still blocked on ``fifo`` after ``seconds``, unblock it (a writer that closes at once)
    and fail. Returns what it returned or raised."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(func())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"blocked on the FIFO {fifo}")
    return outcome[0]


def test_fifo_is_refused_not_waited_for(tmp_path: Path):
    fifo = tmp_path / "v1_manual.json"
    os.mkfifo(fifo)
    for read in (read_regular, load_json, read_sav_json, read_png):
        error = finishes(lambda read=read: read(fifo), fifo)
        assert isinstance(error, SavkitError) and "a FIFO (named pipe), not a regular file" in str(error)
    error = finishes(lambda: read_regular(tmp_path), fifo)
    assert isinstance(error, SavkitError) and "a folder, not a regular file" in str(error)


def test_fifo_in_validate_index_and_eval_is_a_listed_problem(tmp_path: Path, capsys):
    pytest.importorskip("duckdb")
    root = tmp_path / "root"
    root.mkdir()
    write_train_json(root / "good_manual.json")
    os.mkfifo(root / "fifo_manual.json")
    problems = finishes(lambda: validate_paths([root]), root / "fifo_manual.json")
    assert any("a FIFO (named pipe)" in p.found for p in problems)
    code = finishes(
        lambda: main(["index", str(root), "--out", str(tmp_path / "index"), "--workers", "1", "-q"]),
        root / "fifo_manual.json",
    )
    assert code == 1 and "fifo_manual.json: a FIFO (named pipe)" in capsys.readouterr().err

    gt_root, pred_root = make_sav_set(tmp_path / "eval", seed=2, videos=1, frames=3)
    write_mask(gt_root / "v00" / "000" / "00000.png", np.zeros((48, 64), np.uint8))
    fifo = pred_root / "v00" / "000" / "00004.png"
    fifo.unlink()
    os.mkfifo(fifo)
    error = finishes(lambda: evaluate(gt_root, pred_root, EvalOptions(skip_first_and_last=False)), fifo)
    assert isinstance(error, SavkitError) and "00004.png: a FIFO (named pipe)" in str(error)
