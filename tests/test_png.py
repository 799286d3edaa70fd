"""The PNG mask decoder against Pillow: every filter type, widths, bit depths, chunk layouts, fallbacks, bad files."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pyspng
import pytest
from PIL import Image

import savkit.io.png as png
from savkit.errors import SavkitError
from savkit.io.png import decode_png, read_png, write_png

ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)  # x, y, dx, dy


def pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("L") if image.mode == "1" else image)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def filter_rows(rows: np.ndarray, filters, bpp: int = 1) -> bytes:
    """PNG row filtering as the specification defines it (``rows``: the bytes of each row)."""
    out = []
    above = np.zeros(rows.shape[1], np.int32)
    for row, kind in zip(rows.astype(np.int32), filters, strict=True):
        left = np.concatenate((np.zeros(bpp, np.int32), row[:-bpp]))
        upper_left = np.concatenate((np.zeros(bpp, np.int32), above[:-bpp]))
        if kind == 4:
            p = left + above - upper_left
            pa, pb, pc = np.abs(p - left), np.abs(p - above), np.abs(p - upper_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, above, upper_left))
        else:
            predictor = [0, left, above, (left + above) // 2][kind]
        out.append(bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes())
        above = row
    return b"".join(out)


def pack(samples: np.ndarray, depth: int) -> np.ndarray:
    """Rows of 1, 2 or 4-bit samples packed into bytes, first sample in the high bits."""
    per_byte = 8 // depth
    height, width = samples.shape
    padded = np.zeros((height, -(-width // per_byte) * per_byte), np.int32)
    padded[:, :width] = samples
    groups = padded.reshape(height, -1, per_byte)
    shifts = np.arange(per_byte)[::-1] * depth
    return (groups << shifts).sum(axis=2).astype(np.uint8)


def make_png(
    samples: np.ndarray,
    filters=None,
    *,
    colour_type: int = 0,
    depth: int = 8,
    idat_chunks: int = 1,
    extra_before: bytes = b"",
    extra_after: bytes = b"",
    interlaced: bool = False,
) -> bytes:
    """A PNG built by hand: chosen filter per row, IDAT split into several chunks, optional extra chunks."""
    height, width = samples.shape[:2]
    if interlaced:
        passes = [samples[y::dy, x::dx] for x, y, dx, dy in ADAM7]
        raw = b"".join(filter_rows(p.reshape(p.shape[0], -1), [0] * p.shape[0]) for p in passes if p.size)
    else:
        rows = pack(samples, depth) if depth < 8 else samples.reshape(height, -1)
        bpp = max(1, depth // 8) * (samples.shape[2] if samples.ndim == 3 else 1)
        raw = filter_rows(rows, [0] * height if filters is None else filters, bpp)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, int(interlaced))
    return assemble(header, raw, colour_type, idat_chunks, extra_before, extra_after)


def assemble(
    header: bytes,
    raw: bytes,
    colour_type: int = 0,
    idat_chunks: int = 1,
    before: bytes = b"",
    after: bytes = b"",
) -> bytes:
    stream = zlib.compress(raw)
    cuts = np.linspace(0, len(stream), idat_chunks + 1).astype(int)
    palette = chunk(b"PLTE", bytes(range(256)) * 3) if colour_type == 3 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + before
        + palette
        + b"".join(chunk(b"IDAT", stream[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True))
        + after
        + chunk(b"IEND", b"")
    )


def blob_labels(rng: np.random.Generator, height: int, width: int, labels: int = 1) -> np.ndarray:
    """Smooth overlapping ellipses with ids 1..labels: the piecewise-constant rows of real masks."""
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.zeros((height, width), np.uint8)
    for label in range(1, labels + 1):
        for _ in range(2):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            ry, rx = rng.uniform(2, height / 2 + 2), rng.uniform(2, width / 2 + 2)
            out[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = label
    return out


@pytest.fixture
def fast_path_only(monkeypatch):
    """Fail if the general decoder (pyspng or Pillow on the file itself) is used: the fast path must decode it."""

    def general(*args):
        raise AssertionError("fell back to the general decoder")

    monkeypatch.setattr(png, "_decode_general", general)


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("width", [1, 3, 7, 849])
def test_every_filter_type_on_random_bytes(kind, width, fast_path_only):
    rng = np.random.default_rng(kind * 1000 + width)
    height = 11
    samples = rng.integers(0, 256, (height, width), dtype=np.uint8)
    data = make_png(samples, [kind] * height)
    assert np.array_equal(decode_png(data), pillow(data))
    assert np.array_equal(decode_png(data), samples)


@pytest.mark.parametrize("width", [1, 2, 3, 7, 8, 9, 64, 849])
def test_mixed_filters_on_masks_and_random_bytes(width, fast_path_only):
    rng = np.random.default_rng(width)
    for trial in range(12):
        height = int(rng.integers(1, 40))
        if trial % 3 == 0:
            samples = rng.integers(0, 256, (height, width), dtype=np.uint8)
        else:
            samples = blob_labels(rng, height, width, labels=1 + trial % 4) * np.uint8(1 + 60 * (trial % 2))
        filters = (
            rng.integers(0, 5, height) if trial % 2 else rng.integers(0, 3, height)
        )  # odd: Average/Paeth
        data = make_png(samples, filters, colour_type=int(rng.choice([0, 3])))
        assert np.array_equal(decode_png(data), pillow(data)), (trial, filters)


@pytest.mark.parametrize("kind", [0, 1, 2, 4])
def test_single_filter_on_large_masks(kind, fast_path_only):
    """The sparse paths: long Up runs, Sub rows with few changes, chains of Paeth rows under Up runs."""
    rng = np.random.default_rng(kind)
    samples = blob_labels(rng, 120, 200, labels=3) * np.uint8(40)
    data = make_png(samples, [kind] * 120)
    assert np.array_equal(decode_png(data), samples)
    alternating = [2, 2, 4] * 40
    data = make_png(samples, alternating)
    assert np.array_equal(decode_png(data), samples)


def test_dense_up_runs(fast_path_only, monkeypatch):
    """Up rows too dense for numpy's sparse sums go to libspng, as two bands after their None and Sub rows."""
    heights = []
    in_c = png._unfilter_bands_in_c
    monkeypatch.setattr(
        png, "_unfilter_bands_in_c", lambda f, p, rows: heights.append(rows.size) or in_c(f, p, rows)
    )
    samples = np.random.default_rng(5).integers(0, 256, (40, 50), dtype=np.uint8)
    data = make_png(samples, [0] + [2] * 19 + [1] + [2] * 19)
    assert np.array_equal(decode_png(data), samples)
    assert heights == [38]
    stripes = np.zeros((40, 50), np.uint8)
    stripes[:, ::2] = 255  # every column changes at the top: one delta per column, summed over the whole run
    data = make_png(stripes, [0] * 10 + [2] * 30)
    assert np.array_equal(decode_png(data), stripes)
    stripes[:, 10:] = 0  # sparse now: numpy does the run
    assert np.array_equal(decode_png(make_png(stripes, [0] + [2] * 39)), stripes)
    assert heights == [38]


def test_height_one_and_width_one(fast_path_only):
    for shape in [(1, 1), (1, 849), (37, 1)]:
        samples = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        for kind in range(5):
            data = make_png(samples, [kind] * shape[0])
            assert np.array_equal(decode_png(data), samples)


def test_many_idat_chunks_and_ancillary_chunks(fast_path_only):
    samples = blob_labels(np.random.default_rng(1), 33, 47, labels=2)
    text = chunk(b"tEXt", b"Comment\x00made by hand") + chunk(b"gAMA", struct.pack(">I", 45455))
    data = make_png(samples, [4, 1, 2] * 11, idat_chunks=7, extra_before=text, extra_after=text)
    assert np.array_equal(decode_png(data), pillow(data))
    assert np.array_equal(decode_png(data), samples)


@pytest.mark.parametrize("depth", [1, 2, 4, 8])
@pytest.mark.parametrize("colour_type", [0, 3])
def test_unfiltered_palette_and_sub_byte_rows(depth, colour_type, fast_path_only):
    """The formats libpng writes without row filters are inflated in one call: values as Pillow reads them; 8-bit
    palette rows come back as a view of the inflated rows, without a copy; 1-bit grey as 0/1 when asked (Pillow's bool)."""
    rng = np.random.default_rng(depth + colour_type)
    samples = blob_labels(rng, 29, 53, labels=(1 << depth) - 1 if depth < 8 else 5)
    data = make_png(samples, [0] * 29, colour_type=colour_type, depth=depth)
    decoded = decode_png(data)
    assert np.array_equal(decoded, pillow(data))
    if depth == 8 and colour_type == 3:
        assert not decoded.flags.owndata and not decoded.flags.c_contiguous
    ones = decode_png(data, one_bit_grey_as_ones=True)
    with Image.open(io.BytesIO(data)) as image:
        as_pillow_array = np.array(image).astype(np.uint8)
    assert np.array_equal(ones, as_pillow_array)


@pytest.mark.parametrize("first_row", [0, 1, 2, 3, 4])
def test_filters_undone_in_the_inflated_buffer(first_row, fast_path_only):
    """Filtered rows are undone in the buffer libdeflate inflated into (the first row's Up and Paeth read zeros
    above: None and Sub), a view, not a second image; a first Average row takes the copy below a zero row."""
    rng = np.random.default_rng(first_row)
    samples = blob_labels(rng, 37, 61, labels=2) * np.uint8(90)
    filters = [first_row, *rng.integers(0, 5, 36)]
    data = make_png(samples, filters)
    decoded = decode_png(data)
    assert np.array_equal(decoded, samples)
    assert np.array_equal(decoded, pillow(data))
    assert decoded.flags.owndata is False and decoded.base is not None
    if first_row != 3:
        assert decoded.strides[0] == 62  # each row still behind its filter byte


def test_unfiltered_streams_libdeflate_refuses(fast_path_only):
    """A stream with bytes beyond the image, or cut short, is refused by the one-call inflate: the row-by-row path
    decodes the first as Pillow does and words the error of the second."""
    samples = blob_labels(np.random.default_rng(3), 17, 23, labels=3)
    header = struct.pack(">IIBBBBB", 23, 17, 8, 3, 0, 0, 0)
    raw = filter_rows(samples, [0] * 17, 1)
    longer = assemble(header, raw + b"\x00" * 24, colour_type=3)
    assert np.array_equal(decode_png(longer), pillow(longer))
    assert np.array_equal(decode_png(longer), samples)
    shorter = assemble(header, raw[:-30], colour_type=3)
    with pytest.raises(SavkitError, match="truncated image data"):
        decode_png(shorter)


@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("colour_type", [0, 3])
def test_sub_byte_depths(depth, colour_type, fast_path_only):
    rng = np.random.default_rng(depth)
    samples = rng.integers(0, 1 << depth, (13, 21), dtype=np.uint8)
    data = make_png(samples, rng.integers(0, 5, 13), colour_type=colour_type, depth=depth)
    expected = pillow(data)
    assert np.array_equal(decode_png(data), expected)
    scale = 255 // ((1 << depth) - 1) if colour_type == 0 else 1
    assert np.array_equal(expected, samples * np.uint8(scale))


def test_files_written_by_pillow_and_opencv(tmp_path, fast_path_only):
    rng = np.random.default_rng(2)
    binary = (blob_labels(rng, 480, 848) > 0).astype(np.uint8) * np.uint8(255)
    labels = blob_labels(rng, 480, 848, labels=4)
    short_palette = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]], np.uint8)
    write_png(tmp_path / "grey.png", binary)
    write_png(tmp_path / "davis.png", labels, palette=np.zeros((256, 3), np.uint8))
    write_png(tmp_path / "short_palette.png", labels, palette=short_palette)  # Pillow writes 4-bit samples
    write_png(tmp_path / "two_colours.png", labels.clip(0, 1), palette=short_palette[:2])  # 1-bit samples
    cv2.imwrite(str(tmp_path / "opencv_grey.png"), binary)
    cv2.imwrite(str(tmp_path / "opencv_labels.png"), labels)
    for path in sorted(tmp_path.iterdir()):
        assert np.array_equal(read_png(path), pillow(path.read_bytes())), path.name
    assert np.array_equal(read_png(tmp_path / "grey.png"), binary)
    assert np.array_equal(read_png(tmp_path / "short_palette.png"), labels)


def test_write_png_round_trip(tmp_path):
    labels = blob_labels(np.random.default_rng(3), 31, 45, labels=3)
    write_png(tmp_path / "grey.png", labels * np.uint8(80))
    write_png(tmp_path / "palette.png", labels, palette=np.arange(768, dtype=np.uint8).reshape(256, 3) % 251)
    assert np.array_equal(read_png(tmp_path / "grey.png"), labels * np.uint8(80))
    assert np.array_equal(read_png(tmp_path / "palette.png"), labels)
    with Image.open(tmp_path / "palette.png") as image:
        assert image.mode == "P"


def test_fallback_for_16_bit_and_interlaced():
    rng = np.random.default_rng(4)
    deep = rng.integers(0, 65536, (9, 14), dtype=np.uint16)
    data = make_png(deep.astype(">u2").view(np.uint8).reshape(9, 14, 2), depth=16)
    assert np.array_equal(decode_png(data), pillow(data))
    assert np.array_equal(decode_png(data), deep)
    samples = blob_labels(rng, 23, 30, labels=3)
    for colour_type in (0, 3):
        data = make_png(samples, colour_type=colour_type, interlaced=True)
        assert np.array_equal(decode_png(data), pillow(data))
        assert np.array_equal(decode_png(data), samples)


def test_fallback_keeps_the_single_channel_rule():
    rgb = np.zeros((5, 6, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    with pytest.raises(SavkitError, match="single-channel.*3 channels"):
        decode_png(buffer.getvalue(), "rgb.png")
    grey_alpha = make_png(np.zeros((5, 6, 2), np.uint8), colour_type=4)
    with pytest.raises(SavkitError, match="2 channels"):
        decode_png(grey_alpha)


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:-12], "truncated: no IEND"),
        (lambda data: b"GIF89a" + data[6:], "no PNG signature"),
        (lambda data: b"", "no PNG signature"),
    ],
)
def test_damaged_files_are_one_clear_error(tmp_path, damage, reason):
    samples = blob_labels(np.random.default_rng(7), 40, 60)
    path = tmp_path / "00000.png"
    path.write_bytes(damage(make_png(samples, [1] * 40)))
    with pytest.raises(SavkitError, match=rf"00000\.png: not a readable PNG \({reason}.*re-export the mask"):
        read_png(path)


def test_bad_compressed_data_and_filter_type():
    samples = blob_labels(np.random.default_rng(8), 40, 60)
    good = make_png(samples, [2] * 40)
    start = good.index(b"IDAT") + 4
    broken = good[:start] + bytes(b ^ 0x5A for b in good[start : start + 30]) + good[start + 30 :]
    with pytest.raises(SavkitError, match="m.png: not a readable PNG .*re-export the mask"):
        decode_png(broken, "m.png")
    header = struct.pack(">IIBBBBB", 60, 40, 8, 0, 0, 0, 0)
    raw = bytearray(filter_rows(samples, [2] * 40))
    raw[39 * 61] = 5
    with pytest.raises(SavkitError, match="unknown row filter type"):
        decode_png(assemble(header, bytes(raw)), "m.png")
    with pytest.raises(SavkitError, match="truncated image data"):
        decode_png(assemble(header, bytes(raw[: 20 * 61])), "m.png")


def test_implausible_header_size_is_an_error_not_a_huge_allocation(monkeypatch):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    monkeypatch.setenv(
        "SAVKIT_MAX_PIXELS", str(10**11)
    )  # past the pixel limit, the decoder's own bound holds
    with pytest.raises(SavkitError, match="implausible size 100000x100000"):
        decode_png(assemble(header, b"\x00" * 10), "m.png")


def test_missing_file_is_a_savkit_error(tmp_path):
    with pytest.raises(SavkitError, match="no such file"):
        read_png(tmp_path / "absent.png")


def rows_needing_average_or_paeth(filters) -> list[int]:
    """By the definition: a row needs libspng if an Average/Paeth row lies at or above it with only Up, Average or
    Paeth rows in between (each of those depends on the row above)."""
    needing = []
    for row in range(len(filters)):
        above = row
        while above >= 0 and filters[above] == 2:
            above -= 1
        if above >= 0 and filters[above] in (3, 4) and all(f >= 2 for f in filters[above : row + 1]):
            needing.append(row)
    return needing


def slanted_edges(height: int, width: int) -> np.ndarray:
    """Two narrow objects with edges moving one pixel per row: few non-zero Up deltas, as in real masks."""
    rows, columns = np.mgrid[0:height, 0:width]
    first = (columns >= 100 + rows) & (columns < 110 + rows)
    second = (columns >= 250 - rows) & (columns < 260)
    return np.where(first, 60, np.where(second, 120, 0)).astype(np.uint8)


BAND_LAYOUTS = {
    "Paeth at the top": [4, 4, 2, 2, 0, 1, 2, 0, 1, 1, 2, 0],
    "Average at the top": [3, 2, 2, 1, 2, 2, 0, 0, 1, 2, 2, 2],
    "Paeth at the bottom": [0, 1, 2, 2, 1, 0, 2, 2, 1, 0, 2, 4],
    "Paeth chain to the bottom": [1, 2, 2, 2, 0, 2, 4, 2, 2, 3, 2, 2],
    "Up rows on a Paeth row": [0, 2, 2, 4, 2, 2, 2, 2, 1, 2, 2, 0],
    "several bands": [2, 4, 2, 1, 2, 3, 0, 4, 1, 4, 2, 0, 2, 2, 3, 3, 1, 2],
    "bands split by one Sub row": [0, 4, 4, 1, 4, 2, 1, 3, 2, 1, 4, 0],
    "every row Paeth": [4] * 12,
    "alternating": [2, 4] * 6,
}


@pytest.mark.parametrize("in_cache", [False, True], ids=["large image", "image in cache"])
@pytest.mark.parametrize("layout", BAND_LAYOUTS.values(), ids=BAND_LAYOUTS.keys())
def test_bands_of_average_and_paeth_rows(layout, in_cache, fast_path_only, monkeypatch):
    """libspng gets exactly the rows chosen for it (those needing an Average/Paeth row; in an image that stays in
    cache every Up row too), each band after its base row, and the image equals Pillow's. The first row's Up and
    Paeth are its None and Sub (the row above it is zeros), so it never goes to libspng for them."""
    monkeypatch.setattr(png, "_CACHE_BYTES", 1 << 30 if in_cache else 0)
    filters = np.array(layout)
    assert png._rows_after_average_or_paeth(filters).nonzero()[0].tolist() == rows_needing_average_or_paeth(
        layout
    )
    decoded_as = [{2: 0, 4: 1}.get(layout[0], layout[0]), *layout[1:]]
    expected_rows = rows_needing_average_or_paeth(decoded_as)
    if in_cache:
        expected_rows = [row for row, kind in enumerate(decoded_as) if kind >= 2]
    bands = sum(1 for i, row in enumerate(expected_rows) if i == 0 or expected_rows[i - 1] != row - 1)
    heights = []
    load = pyspng.load

    def recording_load(data):
        decoded = load(data)
        heights.append(decoded.shape[0])
        return decoded

    monkeypatch.setattr(png.pyspng, "load", recording_load)
    rng = np.random.default_rng(len(layout))
    for samples in (  # random bytes (dense Up deltas, also left to libspng), then a mask
        rng.integers(0, 256, (len(layout), 400), dtype=np.uint8),
        slanted_edges(len(layout), 400),
    ):
        heights.clear()
        data = make_png(samples, layout)
        assert np.array_equal(decode_png(data), pillow(data))
        assert np.array_equal(decode_png(data), samples)
    assert set(heights) == {len(expected_rows) + bands}


def test_band_rule_on_random_filter_sequences():
    rng = np.random.default_rng(9)
    for _ in range(200):
        filters = rng.integers(0, 5, int(rng.integers(1, 30)))
        assert png._rows_after_average_or_paeth(filters).nonzero()[
            0
        ].tolist() == rows_needing_average_or_paeth(filters.tolist())


@pytest.mark.parametrize("cache_bytes", [0, 1 << 30])
@pytest.mark.parametrize("depth", [1, 4, 8])
def test_bands_in_sub_byte_and_palette_images(depth, cache_bytes, fast_path_only, monkeypatch):
    monkeypatch.setattr(png, "_CACHE_BYTES", cache_bytes)
    rng = np.random.default_rng(depth + 20)
    samples = blob_labels(rng, 40, 90, labels=min(3, (1 << depth) - 1))
    filters = [0, 1, 2, 4, 2, 2, 1] * 5 + [2, 3, 2, 4, 2]
    for colour_type in (0, 3):
        data = make_png(samples, filters, colour_type=colour_type, depth=depth)
        assert np.array_equal(decode_png(data), pillow(data))


def test_pillow_masks_with_paeth_rows(tmp_path, fast_path_only, monkeypatch):
    """Pillow's own filter choice on ellipse masks (the SA-V demo masks) includes Paeth rows along the edges."""
    calls = []
    in_c = png._unfilter_bands_in_c
    monkeypatch.setattr(png, "_unfilter_bands_in_c", lambda *args: calls.append(1) or in_c(*args))
    for index, (axes, angle) in enumerate([((200, 100), 150), ((280, 150), 150), ((280, 150), 45)]):
        mask = cv2.ellipse(
            np.zeros((1080, 1920), np.uint8), (900, 500), axes, angle, 0, 360, 255, thickness=-1
        )
        path = tmp_path / f"{index}.png"
        write_png(path, mask)
        assert np.array_equal(read_png(path), mask)
    assert calls


@pytest.mark.parametrize("piece_bytes", [1, 100, 1 << 16])
def test_inflated_piece_by_piece(piece_bytes, fast_path_only, monkeypatch):
    """Pieces of one row, of a few rows with a remainder, or of the whole image give the same image."""
    monkeypatch.setattr(png, "_PIECE_BYTES", piece_bytes)
    rng = np.random.default_rng(piece_bytes)
    samples = blob_labels(rng, 50, 33, labels=3) * np.uint8(70)
    data = make_png(samples, rng.integers(0, 5, 50), idat_chunks=3)
    assert np.array_equal(decode_png(data), samples)
    header = struct.pack(">IIBBBBB", 33, 50, 8, 0, 0, 0, 0)
    raw = filter_rows(samples, [2] * 50)
    with pytest.raises(SavkitError, match=f"truncated image data: {45 * 34} of {50 * 34} bytes"):
        decode_png(assemble(header, raw[: 45 * 34]), "m.png")
