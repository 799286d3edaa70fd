"""PNG masks: reading (label or binary masks as 2-D uint8 arrays) and writing (atomic, Pillow).

``read_png`` returns the stored sample values: palette indices for palette PNGs, grey levels for grey PNGs
(1, 2 and 4-bit grey scaled to 0-255 as Pillow's "L" mode does).

Mask PNGs (grey or palette, 1-8 bits, not interlaced) are decoded here, faster than pyspng (libspng, bound by
zlib): IDAT is inflated in one call by libdeflate (6x faster than zlib), and the rows are unfiltered in that buffer
itself: the result is a view of it, without a copy (not contiguous: each row keeps one byte in front). Palette and
sub-byte PNGs are written without row filters (libpng's rule, which Pillow and OpenCV follow): their rows are used
as inflated. A mask is piecewise constant, so its filtered rows are almost all zeros: None, Sub and Up rows (most
rows of real masks) are undone with numpy on the few non-zero bytes. Average and Paeth rows are sequential byte by
byte, so the rows that depend on them (in a mask, bands along the object's edges) are unfiltered by libspng, fed as
an uncompressed PNG. A stream libdeflate refuses is inflated again by ISA-L a few rows at a time, which words the
error (or, for bytes beyond the image, ignores them as Pillow does).
Anything else goes to pyspng or Pillow. Results equal Pillow's.
"""

from __future__ import annotations

import functools
import io
import os
import struct
from dataclasses import dataclass

import cv2
import deflate
import numpy as np
import pyspng
from isal import igzip_lib, isal_zlib
from PIL import Image

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path
from savkit.io.files import read_regular
from savkit.io.limits import check_size

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NONE, _SUB, _UP, _AVERAGE, _PAETH = range(5)
_BYTES_OF_WORD = np.arange(8)
_MAX_BYTES = 1 << 31  # a mask this large is a corrupt header, not a mask
# Images up to this size have their Up rows done by libspng too (``_rows_for_libspng``).
_CACHE_BYTES = 1 << 20
_UP_SPARSE_SHARE = (
    0.125  # numpy undoes Up rows if it adds at most this share of their bytes, else libspng does
)
_PIECE_BYTES = 1 << 16  # inflated at a time: small enough for glibc to serve from memory it keeps


@dataclass(frozen=True)
class _Header:
    """The IHDR fields that decide how a PNG is decoded."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool

    @property
    def is_mask_format(self) -> bool:
        """Grey or palette with 1-8 bit samples, not interlaced: the formats the fast path decodes."""
        return self.colour_type in (0, 3) and self.bit_depth in (1, 2, 4, 8) and not self.interlaced

    @property
    def row_bytes(self) -> int:
        return (self.width * self.bit_depth + 7) // 8


class PngSizeMismatch(SavkitError):
    """A PNG declares another size than the one it must have (its pair's); raised before anything is inflated."""

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int], expected: tuple[int, int]) -> None:
        self.path, self.shape, self.expected = path, shape, expected
        super().__init__(
            f"{path} is {shape[1]}x{shape[0]}, not {expected[1]}x{expected[0]} as its pair: give both the same size"
        )


def read_png(
    path: str | os.PathLike, shape: tuple[int, int] | None = None, *, one_bit_grey_as_ones: bool = False
) -> np.ndarray:
    """Read a single-channel PNG as a 2-D uint8 array; a corrupt or unreadable file (or not a regular file) is a
    SavkitError. ``shape`` (height, width): the size the PNG must declare, else :class:`PngSizeMismatch`.
    See :func:`decode_png` for ``one_bit_grey_as_ones``."""
    return decode_png(read_regular(path), path, shape, one_bit_grey_as_ones=one_bit_grey_as_ones)


def decode_png(
    data: bytes,
    path: str | os.PathLike = "<bytes>",
    shape: tuple[int, int] | None = None,
    *,
    one_bit_grey_as_ones: bool = False,
) -> np.ndarray:
    """Decode PNG bytes to a new 2-D array of stored sample values, the caller's own (writable; it may be a view of
    a larger buffer, not contiguous).

    1-bit grey is scaled to 0/255 as Pillow's "L" conversion does, or with ``one_bit_grey_as_ones`` kept 0/1 as
    ``np.array(Image.open(path))`` gives it (a bool array). The declared size is checked before any decoding, by
    savkit or by the fallbacks: against ``shape`` if given, and against the pixel limit (:mod:`savkit.io.limits`),
    so a small hostile file cannot make it inflate gigabytes.
    """
    header, idat = _read_chunks(data, path)
    declared = (header.height, header.width)
    if shape is not None and declared != tuple(shape):
        raise PngSizeMismatch(path, declared, tuple(shape))
    check_size(header.height, header.width, path)
    array = _decode_samples(data, header, idat, path)
    if one_bit_grey_as_ones and header.bit_depth == 1 and header.colour_type == 0:
        return np.minimum(array, 1)
    return array


def _decode_samples(data: bytes, header: _Header, idat: bytes, path: str | os.PathLike) -> np.ndarray:
    """The stored samples, 1-bit grey scaled to 0/255."""
    if header.is_mask_format:
        return _decode_mask(header, idat, path)
    array = _decode_general(data, header, path)
    if array.ndim == 3:
        if array.shape[2] != 1:
            raise SavkitError(
                f"{path}: a mask PNG must be single-channel (grey or palette), not {array.shape[2]} channels"
            )
        array = array[:, :, 0]
    return array


def _corrupt(path: str | os.PathLike, reason: str) -> SavkitError:
    return SavkitError(f"{path}: not a readable PNG ({reason}); re-export the mask")


def _read_chunks(data: bytes, path: str | os.PathLike) -> tuple[_Header, bytes]:
    """The header and the concatenated IDAT data; ancillary chunks are skipped and CRCs are not checked (the
    zlib stream carries its own checksum)."""
    if not data.startswith(_SIGNATURE):
        raise _corrupt(path, "no PNG signature")
    view = memoryview(data)
    header = None
    idat = []
    position = len(_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise _corrupt(path, "truncated: no IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, position)
        body = position + 8
        position = body + length + 4
        if position > len(data):
            raise _corrupt(path, f"truncated {kind.decode('latin-1')} chunk")
        if kind == b"IHDR":
            header = _parse_ihdr(view[body : body + length], path)
        elif header is None:
            raise _corrupt(path, "the first chunk is not IHDR")
        elif kind == b"IDAT":
            idat.append(view[body : body + length])
        elif kind == b"IEND":
            break
    if not idat:
        raise _corrupt(path, "no IDAT chunk")
    return header, b"".join(idat)


def _parse_ihdr(body: memoryview, path: str | os.PathLike) -> _Header:
    if len(body) != 13:
        raise _corrupt(path, "bad IHDR chunk")
    width, height, bit_depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
    if width == 0 or height == 0:
        raise _corrupt(path, f"empty image {width}x{height}")
    return _Header(width, height, bit_depth, colour_type, interlace != 0)


def _decode_general(data: bytes, header: _Header, path: str | os.PathLike) -> np.ndarray:
    """pyspng where it returns the stored samples (8-bit, not palette: it expands palettes to RGB and gives 16-bit
    grey two channels), Pillow for the rest."""
    if header.bit_depth == 8 and header.colour_type != 3:
        try:
            return pyspng.load(data)
        except Exception:
            pass  # Pillow decides, and words the error
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode == "1":
                image = image.convert("L")
            return np.array(image)
    except Exception as exc:
        raise _corrupt(path, str(exc)) from None


def _decode_mask(header: _Header, idat: bytes, path: str | os.PathLike) -> np.ndarray:
    """Inflate, undo the filters, unpack sub-byte samples."""
    if header.height * (header.row_bytes + 1) > _MAX_BYTES:
        raise _corrupt(path, f"implausible size {header.width}x{header.height}")
    inflated = _inflate_whole(header, idat)
    rows = None if inflated is None else _unfilter_in_place(inflated)
    if rows is None:
        if inflated is None:
            filters, padded = _inflate_rows(header, idat, path)
        else:
            filters, padded = _below_zero_row(inflated)
        if filters.max() > _PAETH:
            raise _corrupt(path, "unknown row filter type")
        rows = _unfilter(filters, padded)
    if header.bit_depth == 8:
        return rows
    return _unpack_samples(rows, header)


def _inflate_whole(header: _Header, idat: bytes) -> np.ndarray | None:
    """The inflated rows, each behind its filter type: an (H, 1 + row bytes) array over one writable buffer,
    inflated in one call by libdeflate (1.5x faster than ISA-L here, but whole buffers only). None for a stream
    libdeflate refuses (corrupt, or with bytes beyond the image) or that holds too few bytes: the caller inflates
    again a few rows at a time, and words any error."""
    stride = header.row_bytes + 1
    try:
        raw = deflate.zlib_decompress(idat, header.height * stride)
    except deflate.DeflateError:
        return None
    if len(raw) != header.height * stride:  # a complete stream of fewer bytes
        return None
    return np.frombuffer(raw, np.uint8).reshape(header.height, stride)


# What a filter does on the first row, whose row above is zeros: Up adds nothing (None), Paeth predicts from the
# left (Sub). Average (half the left byte) has no such twin.
_FIRST_ROW_FILTER = {_NONE: _NONE, _SUB: _SUB, _UP: _NONE, _PAETH: _SUB}


def _unfilter_in_place(inflated: np.ndarray) -> np.ndarray | None:
    """The rows' samples, unfiltered in the inflated buffer itself: no second image-sized buffer to allocate and
    fault in; a view of the buffer, each row still behind one byte.

    Each row's filter-type byte is set to 0 once read: a zero byte on the left of every row is what the filters
    assume outside the image (so the rows unfilter as they are, one byte wider). :func:`_unfilter` also wants the
    zeros above the image as a row of its own: instead the first row is finished alone, and becomes the row above
    the others. None when the first row is an Average row or a filter type is unknown (``inflated`` untouched):
    the caller copies the rows below a zero row, and words the error.
    """
    filters = inflated[:, 0].copy()
    if not filters.any():
        return inflated[:, 1:]  # no row filtered (palette and sub-byte PNGs): the rows as inflated
    first = _FIRST_ROW_FILTER.get(int(filters[0]))
    if first is None or filters.max() > _PAETH:
        return None
    inflated[:, 0] = 0
    if first == _SUB and (filters[1:] == _SUB).all():  # OpenCV's choice for every row: sums into a new array
        return _running_sums(inflated)[:, 1:]
    if first == _SUB:
        inflated[0] = _running_sums(inflated[:1])[0]
    if inflated.shape[0] > 1:
        _unfilter(filters[1:], inflated)
    return inflated[:, 1:]


def _below_zero_row(inflated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The filter types, and the rows' bytes below a row of zeros (the row above the image): the layout
    :func:`_unfilter` works in."""
    padded = np.empty((inflated.shape[0] + 1, inflated.shape[1] - 1), np.uint8)
    padded[0] = 0
    padded[1:] = inflated[:, 1:]
    return inflated[:, 0].copy(), padded


def _inflate_rows(header: _Header, idat: bytes, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The filter type of each row, and the rows' filtered bytes in rows 1..H of an (H + 1, row bytes) array
    whose row 0 is the zeros above the image, inflated by ISA-L a few rows at a time straight into that array;
    for the streams libdeflate refuses: a corrupt one is worded here, bytes beyond the image are ignored."""
    stride = header.row_bytes + 1
    rows_per_piece = max(1, _PIECE_BYTES // stride)
    filters = np.empty(header.height, np.uint8)
    padded = np.empty((header.height + 1, header.row_bytes), np.uint8)
    padded[0] = 0
    inflater = igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_ZLIB)
    data = idat
    for first in range(0, header.height, rows_per_piece):
        count = min(rows_per_piece, header.height - first)
        try:
            piece = inflater.decompress(data, count * stride) if not inflater.eof else b""
        except igzip_lib.error as exc:
            raise _corrupt(path, f"bad compressed data: {exc}") from None
        data = b""
        if len(piece) < count * stride:
            done = first * stride + len(piece)
            raise _corrupt(path, f"truncated image data: {done} of {header.height * stride} bytes")
        rows = np.frombuffer(piece, np.uint8).reshape(count, stride)
        filters[first : first + count] = rows[:, 0]
        padded[first + 1 : first + 1 + count] = rows[:, 1:]
    return filters, padded


def _unpack_samples(rows: np.ndarray, header: _Header) -> np.ndarray:
    """Split 1, 2 or 4-bit samples (first sample in the high bits) into bytes; grey is scaled to 0-255.
    1-bit rows are unpacked bit by bit; 2 and 4-bit rows by a table of the samples of each byte value, looked
    up by OpenCV (4x faster than ``np.take``, which first widens every byte to an index)."""
    if header.bit_depth == 1:
        samples = np.unpackbits(rows, axis=1)
        if header.colour_type == 0:
            samples *= np.uint8(255)
    else:
        table = _sample_table(header.bit_depth, header.colour_type == 0)
        samples = cv2.LUT(rows, table.reshape(256, 1)).view(np.uint8).reshape(header.height, -1)
    return samples[:, : header.width]


@functools.cache
def _sample_table(bit_depth: int, scale_to_byte: bool) -> np.ndarray:
    """The samples of every byte value, packed into one 2 or 4-byte word per byte (signed: the word types
    ``cv2.LUT`` takes), so one lookup unpacks a whole byte."""
    per_byte = 8 // bit_depth
    shifts = np.arange(per_byte)[::-1] * bit_depth
    samples = (np.arange(256)[:, None] >> shifts) & ((1 << bit_depth) - 1)
    if scale_to_byte:
        samples *= 255 // ((1 << bit_depth) - 1)
    return np.ascontiguousarray(samples, np.uint8).view(f"i{per_byte}").ravel()


def _unfilter(filters: np.ndarray, padded: np.ndarray) -> np.ndarray:
    """Undo PNG row filters for one byte per pixel, in place: ``padded`` holds the zeros above the image, then
    the filtered rows. Returns its (H, row bytes) reconstructed rows, ``padded[1:]``.

    None and Sub rows stand alone; an Up run is its base (the row above it) plus column sums, done once the Sub
    rows are. Rows that depend on an Average or Paeth row (in a small image, every Up row too) go to libspng
    once the rest are done (``_unfilter_bands_in_c``).
    """
    height = filters.size
    top = filters.max()
    if top == _NONE:
        return padded[1:]
    sub = (filters == _SUB).nonzero()[0] + 1
    if sub.size == height:  # OpenCV's choice for every row
        padded[1:] = _running_sums(padded[1:])
        return padded[1:]
    if sub.size:
        padded[sub] = _running_sums(padded[sub])
    in_c = _rows_for_libspng(filters, padded.size) if top >= _AVERAGE else np.zeros(height, bool)
    up = ((filters == _UP) & ~in_c).nonzero()[0] + 1
    if up.size and not _undo_up(padded, up):
        in_c |= filters == _UP
    if in_c.any():
        _unfilter_bands_in_c(filters, padded, in_c.nonzero()[0])
    return padded[1:]


def _rows_for_libspng(filters: np.ndarray, image_bytes: int) -> np.ndarray:
    """The rows libspng reconstructs in an image with Average or Paeth rows: those that depend on one, and in an
    image that stays in cache, every Up row too (measured: libspng's pass over them is then cheaper than numpy's
    sparse Up; in larger images copying them to and from libspng costs more)."""
    if image_bytes <= _CACHE_BYTES:
        return filters >= _UP
    return _rows_after_average_or_paeth(filters)


def _rows_after_average_or_paeth(filters: np.ndarray) -> np.ndarray:
    """Which rows need an Average or Paeth row reconstructed first: those rows, and the Up, Average and Paeth
    rows below them up to the next None or Sub row (which depends on no other row). In a mask these bands are
    the object's edges, a small share of the image."""
    index = np.arange(filters.size)
    last_average_or_paeth = np.maximum.accumulate(np.where(filters >= _AVERAGE, index, -1))
    last_standalone = np.maximum.accumulate(np.where(filters <= _SUB, index, -1))
    return last_average_or_paeth > last_standalone


def _unfilter_bands_in_c(filters: np.ndarray, padded: np.ndarray, rows: np.ndarray) -> None:
    """Average and Paeth rows depend on their left neighbour byte by byte: numpy would go byte by byte, libspng
    does them at C speed. It gets the bands of ``rows`` (image rows, ascending), each after its base row (the
    finished row above the band, as a None row), as an uncompressed 8-bit grey PNG of one byte per sample, so
    it returns the bytes of any bit depth and the indices of palette images. Writes the rows into ``padded``."""
    starts_band = np.ones(rows.size, bool)
    np.not_equal(rows[1:], rows[:-1] + 1, out=starts_band[1:])
    slots = np.arange(rows.size) + starts_band.cumsum()  # each band is shifted down by the bases above it
    bases = slots[starts_band] - 1
    bands = np.empty((rows.size + bases.size, padded.shape[1] + 1), np.uint8)
    bands[slots, 0] = filters[rows]
    bands[slots, 1:] = padded[rows + 1]
    bands[bases, 0] = _NONE
    bands[bases, 1:] = padded[rows[starts_band]]  # padded row r is image row r - 1
    padded[rows + 1] = pyspng.load(_stored_png(bands))[slots]


def _stored_png(rows: np.ndarray) -> bytes:
    """An 8-bit grey PNG holding filtered rows (filter type first) in stored (uncompressed) deflate blocks.
    pyspng has libspng skip the CRC and Adler-32 checks; they are written anyway (ISA-L computes them at memory
    speed), so this stays a valid PNG."""
    height, stride = rows.shape
    raw = memoryview(rows.reshape(-1))
    stream = [b"\x78\x01"]  # zlib header: deflate, 32K window, no preset dictionary
    for start in range(0, len(raw), 0xFFFF):
        block = raw[start : start + 0xFFFF]
        last = start + 0xFFFF >= len(raw)
        stream += [struct.pack("<BHH", last, len(block), 0xFFFF ^ len(block)), block]
    stream.append(struct.pack(">I", isal_zlib.adler32(raw)))
    header = struct.pack(">IIBBBBB", stride - 1, height, 8, 0, 0, 0, 0)
    return b"".join([_SIGNATURE, *_chunk(b"IHDR", [header]), *_chunk(b"IDAT", stream), *_chunk(b"IEND", [])])


def _chunk(kind: bytes, body: list) -> list:
    """A chunk as pieces to join: length, type, body pieces, CRC."""
    crc = isal_zlib.crc32(kind)
    for piece in body:
        crc = isal_zlib.crc32(piece, crc)
    return [struct.pack(">I", sum(len(piece) for piece in body)) + kind, *body, struct.pack(">I", crc)]


def _nonzero_positions(array: np.ndarray) -> np.ndarray:
    """Flat indices of the non-zero bytes of an array, fast when they are few: words of 8 bytes first."""
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    whole = flat.size - flat.size % 8
    words = (flat[:whole].view(np.uint64) != 0).nonzero()[0]
    candidates = ((words * 8)[:, None] + _BYTES_OF_WORD).ravel()
    if whole < flat.size:
        candidates = np.concatenate((candidates, np.arange(whole, flat.size)))
    return candidates[flat[candidates] != 0]


def _gaps(starts: np.ndarray, end: int) -> np.ndarray:
    """Lengths of the spans that begin at the sorted ``starts``, the last one running to ``end``."""
    gaps = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=gaps[:-1])
    gaps[-1:] = end - starts[-1:]
    return gaps


def _running_sums(block: np.ndarray) -> np.ndarray:
    """Sub rows: each row's running sum mod 256. It only changes at non-zero bytes: sum there, repeat between."""
    rows, width = block.shape
    flat = block.reshape(-1)
    row_starts = np.arange(0, flat.size, width)
    changes = _nonzero_positions(block)
    breaks = np.concatenate((row_starts, changes[changes % width != 0]))
    breaks.sort()
    sums = flat[breaks].cumsum(dtype=np.uint8)
    first = breaks.searchsorted(row_starts)
    before_row = sums[first] - flat[row_starts]
    values = sums - before_row.repeat(_gaps(first, breaks.size))
    return values.repeat(_gaps(breaks, flat.size)).reshape(rows, width)


def _undo_up(padded: np.ndarray, rows: np.ndarray) -> bool:
    """Up rows (rows of ``padded``, whose runs' bases are finished): row = base (the row above its run) + column
    sums of the run's deltas. Mask deltas are almost all zero, so each non-zero delta is added to its column from
    its row down to the run's end (``np.add.at`` sums where such segments overlap). Dense deltas are left to
    libspng: returns False, with ``padded`` untouched."""
    width = padded.shape[1]
    new_run = np.ones(rows.size, bool)
    np.not_equal(rows[1:], rows[:-1] + 1, out=new_run[1:])
    first = new_run.nonzero()[0]
    run = new_run.cumsum() - 1
    deltas = padded[rows]
    positions = _nonzero_positions(deltas)
    if positions.size * 16 > deltas.size:
        return False
    index, column = np.divmod(positions, width)
    lengths = (first + _gaps(first, rows.size))[run[index]] - index
    if lengths.sum() > deltas.size * _UP_SPARSE_SHARE:
        return False
    padded[rows] = padded[rows[first][run] - 1]
    down = np.arange(lengths.sum()) - (lengths.cumsum() - lengths).repeat(lengths)
    starts = (rows[index] * width + column).repeat(lengths)
    np.add.at(padded.reshape(-1), starts + down * width, deltas.reshape(-1)[positions].repeat(lengths))
    return True


def write_png(path: str | os.PathLike, array: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write a 2-D uint8 array as a grey PNG, or as a palette PNG when ``palette`` (N x 3 uint8) is given."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L" if palette is None else "P")
    if palette is not None:
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
