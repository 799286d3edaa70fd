"""PNG masks: reading (label or binary masks as 2-D uint8 arrays) and writing (atomic, Pillow).

``read_png`` returns the stored sample values: palette indices for palette PNGs, grey levels for grey PNGs
(1, 2 and 4-bit grey scaled to 0-255 as Pillow's "L" mode does).

Mask PNGs (grey or palette, 1-8 bits, not interlaced) are decoded here, faster than pyspng (libspng): IDAT is
inflated with ISA-L (4x faster than zlib) and the row filters are undone with numpy on the few bytes that are not
zero. A mask is piecewise constant, so its filtered rows are almost all zeros and every filter reduces to filling
runs (Sub, Paeth: along the row; Up: down the columns). Anything else, or image data that is not mask-like,
goes to pyspng or Pillow. Results equal Pillow's.
"""

from __future__ import annotations

import functools
import io
import os
import struct
from dataclasses import dataclass

import numpy as np
import pyspng
from isal import isal_zlib
from PIL import Image

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NONE, _SUB, _UP, _AVERAGE, _PAETH = range(5)
# Sequential numpy steps (~10 us each) the fast path may take before a C decoder is the faster choice: masks
# need a handful, photographs thousands.
_STEP_BUDGET = 256
_BYTES_OF_WORD = np.arange(8)
_MAX_BYTES = 1 << 31  # a mask this large is a corrupt header, not a mask


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


class _NotAMask(Exception):
    """The image data are not mask-like: a C decoder will be faster than the vectorised filters."""


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a single-channel PNG as a 2-D uint8 array; a corrupt or unreadable file is a SavkitError."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.read(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SavkitError(f"cannot read {path}: {exc.strerror}") from None
    return decode_png(data, path)


def decode_png(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode PNG bytes to a 2-D array of stored sample values."""
    header, idat = _read_chunks(data, path)
    if header.is_mask_format:
        try:
            return _decode_mask(header, idat, path)
        except _NotAMask:
            pass
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
    """Inflate with ISA-L, undo the filters, unpack sub-byte samples."""
    stride = header.row_bytes + 1
    size = header.height * stride
    if size > _MAX_BYTES:
        raise _corrupt(path, f"implausible size {header.width}x{header.height}")
    try:
        # One spare byte: a buffer that fills up exactly is grown and shrunk again, which costs 2.5x.
        inflated = isal_zlib.decompress(idat, bufsize=size + 1)
    except isal_zlib.error as exc:
        raise _corrupt(path, f"bad compressed data: {exc}") from None
    if len(inflated) < size:
        raise _corrupt(path, f"truncated image data: {len(inflated)} of {size} bytes")
    filtered = np.frombuffer(inflated, np.uint8, size).reshape(header.height, stride)
    if filtered[:, 0].max() > _PAETH:
        raise _corrupt(path, "unknown row filter type")
    rows = _unfilter(filtered)
    if header.bit_depth == 8:
        return rows
    return _unpack_samples(rows, header)


def _unpack_samples(rows: np.ndarray, header: _Header) -> np.ndarray:
    """Split 1, 2 or 4-bit samples (first sample in the high bits) into bytes; grey is scaled to 0-255."""
    samples = np.take(_sample_table(header.bit_depth, header.colour_type == 0), rows)
    return samples.view(np.uint8).reshape(header.height, -1)[:, : header.width]


@functools.cache
def _sample_table(bit_depth: int, scale_to_byte: bool) -> np.ndarray:
    """The samples of every byte value, packed into one word per byte (so ``np.take`` unpacks a whole byte)."""
    per_byte = 8 // bit_depth
    shifts = np.arange(per_byte)[::-1] * bit_depth
    samples = (np.arange(256)[:, None] >> shifts) & ((1 << bit_depth) - 1)
    if scale_to_byte:
        samples *= 255 // ((1 << bit_depth) - 1)
    return np.ascontiguousarray(samples, np.uint8).view(f"u{per_byte}").ravel()


def _unfilter(filtered: np.ndarray) -> np.ndarray:
    """Undo PNG row filters for one byte per pixel: ``filtered`` is (H, 1 + row bytes) as inflated, filter type
    first. Returns the (H, row bytes) reconstructed bytes.

    None and Sub rows stand alone. An Up run is its base (the row above it) plus column sums, so it is done last,
    in one pass. Average and Paeth rows need the finished row above: they are done in levels, level k holding the
    rows with k Average/Paeth rows (themselves included) since the last None/Sub row; a row above that lies in an
    Up run is that run's base plus the run's column totals.
    """
    height, width = filtered.shape[0], filtered.shape[1] - 1
    filters = filtered[:, 0]
    padded = np.empty((height + 1, width), np.uint8)  # row 0: the zeros above the image
    padded[0] = 0
    padded[1:] = filtered[:, 1:]
    if not filters.any():
        return padded[1:]
    sub = (filters == _SUB).nonzero()[0] + 1
    if sub.size == height:  # OpenCV's choice for every row
        return _running_sums(padded[1:])
    if sub.size:
        padded[sub] = _running_sums(padded[sub])
    if filters.max() >= _UP:
        up = _UpRuns(padded, (filters == _UP).nonzero()[0] + 1)
        _undo_average_and_paeth(padded, filters, up)
        up.apply(padded)
    return padded[1:]


def _undo_average_and_paeth(padded: np.ndarray, filters: np.ndarray, up: _UpRuns) -> None:
    """Average and Paeth rows level by level (see ``_unfilter``); the rows of one level are done together."""
    rows = (filters >= _AVERAGE).nonzero()[0]
    if not rows.size:
        return
    count = (filters >= _AVERAGE).cumsum()
    last_free = np.maximum.accumulate(np.where(filters <= _SUB, np.arange(filters.size), -1))
    level = count[rows] - np.where(last_free[rows] >= 0, count[last_free[rows]], 0)
    order = level.argsort(kind="stable")
    rows = rows[order] + 1  # rows of ``padded``, level by level
    is_average = filters[rows - 1] == _AVERAGE
    above_source, above_totals = up.row_above(rows)
    bounds = level[order].searchsorted(np.arange(1, level.max() + 2)).tolist()
    steps = len(bounds)
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        level_rows = rows[begin:end]
        above = padded[above_source[begin:end]]
        above += above_totals[begin:end]
        if is_average[begin:end].any():
            paeth = ~is_average[begin:end]
            for row, row_above in zip(level_rows[~paeth], above[~paeth], strict=True):
                padded[row] = _average_row(padded[row], row_above)
                steps += row_above.size // 16
            level_rows, above = level_rows[paeth], above[paeth]
        if level_rows.size:
            padded[level_rows], anchors = _paeth_rows(padded[level_rows], above)
            steps += anchors // 16
        if steps > _STEP_BUDGET:
            raise _NotAMask


def _nonzero_positions(array: np.ndarray) -> np.ndarray:
    """Flat indices of the non-zero bytes of a contiguous array, fast when they are few: words of 8 bytes first."""
    flat = array.reshape(-1).view(np.uint8)
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


class _UpRuns:
    """The Up rows of an image as runs: row = base (the row above the run) + column sums of the run's deltas.

    The deltas of mask rows are almost all zero, so each non-zero delta is added to its column from its row down to
    the run's end (``np.add.at``, which sums where segments overlap); dense deltas use ``np.cumsum`` down the
    columns instead.
    """

    def __init__(self, padded: np.ndarray, rows: np.ndarray):
        self.rows = rows
        self.height, width = padded.shape
        new_run = np.ones(rows.size, bool)
        np.not_equal(rows[1:], rows[:-1] + 1, out=new_run[1:])
        self.first = new_run.nonzero()[0]
        self.run = new_run.cumsum() - 1
        self.bases = rows[self.first] - 1
        self.deltas = padded[rows]
        positions = _nonzero_positions(self.deltas)
        self.dense = positions.size * 16 > self.deltas.size
        if not self.dense:
            self.index, self.column = np.divmod(positions, width)
            self.values = self.deltas.reshape(-1)[positions]
            run_end = self.first + _gaps(self.first, rows.size)
            self.lengths = run_end[self.run[self.index]] - self.index
            self.dense = int(self.lengths.sum()) > self.deltas.size

    def row_above(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For rows of ``padded``: the finished row their row above derives from, and what to add to it (the
        column totals of the Up run above them, or zeros)."""
        width = self.deltas.shape[1]
        run_of = np.full(self.height, -1)
        run_of[self.rows] = self.run
        run = run_of[rows - 1]
        source = np.where(run >= 0, np.append(self.bases, 0)[run], rows - 1)
        totals = np.zeros((self.first.size + 1, width), np.uint8)  # last row: nothing to add
        if self.dense:
            sums = self.deltas.cumsum(axis=0, dtype=np.uint8)
            totals[:-1] = sums[self.first + _gaps(self.first, self.rows.size) - 1]
            totals[1:-1] -= sums[self.first[1:] - 1]
        else:
            np.add.at(totals, (self.run[self.index], self.column), self.values)
        return source, totals[run]

    def apply(self, padded: np.ndarray) -> None:
        """Write the Up rows (their bases must be finished)."""
        if not self.rows.size:
            return
        padded[self.rows] = padded[self.bases[self.run]]
        if self.dense:
            sums = self.deltas.cumsum(axis=0, dtype=np.uint8)
            before = np.zeros((self.first.size, sums.shape[1]), np.uint8)
            before[1:] = sums[self.first[1:] - 1]
            padded[self.rows] += sums - before[self.run]
        elif self.index.size:
            width = padded.shape[1]
            lengths = self.lengths
            down = np.arange(lengths.sum()) - (lengths.cumsum() - lengths).repeat(lengths)
            starts = (self.rows[self.index] * width + self.column).repeat(lengths)
            np.add.at(padded.reshape(-1), starts + down * width, self.values.repeat(lengths))


def _paeth_rows(filtered: np.ndarray, above: np.ndarray) -> tuple[np.ndarray, int]:
    """Undo Paeth on rows whose rows above are known; also returns the number of places resolved one by one.

    Where the row above is flat (above == upper-left) the predictor is the left byte, so a row only changes at
    its non-zero filtered bytes and at anchors: the row starts and the bytes where the row above changes. A mask
    row has a handful of those; they are resolved in order in Python and the row is filled between them.
    """
    rows, width = filtered.shape
    is_anchor = np.ones((rows, width), bool)
    np.not_equal(above[:, 1:], above[:, :-1], out=is_anchor[:, 1:])
    anchors = is_anchor.reshape(-1).nonzero()[0]
    flat = filtered.reshape(-1)
    nonzero = flat.nonzero()[0]
    above_flat = above.reshape(-1)
    corners = zip(above_flat[anchors].tolist(), above_flat[anchors - 1].tolist(), strict=True)
    starts, values = _paeth_changes(
        dict(zip(anchors.tolist(), corners, strict=True)),
        dict(zip(nonzero.tolist(), flat[nonzero].tolist(), strict=True)),
        width,
    )
    lengths = [end - start for start, end in zip(starts, [*starts[1:], flat.size], strict=True)]
    return np.array(values, np.uint8).repeat(lengths).reshape(rows, width), len(starts)


def _paeth_changes(anchors: dict, deltas: dict, width: int) -> tuple[list[int], list[int]]:
    """The positions where Paeth rows may change and their values there. ``anchors`` maps each anchor to the
    bytes above and upper-left of it, ``deltas`` each non-zero filtered byte to its value."""
    starts, values = [], []
    value = 0
    for position in sorted(anchors.keys() | deltas.keys()):
        delta = deltas.get(position, 0)
        if position in anchors:
            b, c = anchors[position]
            if position % width == 0:  # left and upper-left are 0: the predictor is the byte above
                predictor = b
            else:
                a = value
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
            value = (delta + predictor) & 255
        else:  # the predictor is the left byte
            value = (value + delta) & 255
        starts.append(position)
        values.append(value)
    return starts, values


def _average_row(filtered: np.ndarray, above: np.ndarray) -> list[int]:
    """Average rows have no run structure to exploit, and encoders rarely choose them for masks: byte by byte."""
    left = 0
    line = filtered.tolist()
    for x, (delta, up) in enumerate(zip(line, above.tolist(), strict=True)):
        left = (delta + ((left + up) >> 1)) & 255
        line[x] = left
    return line


def write_png(path: str | os.PathLike, array: np.ndarray, palette: np.ndarray | None = None) -> None:
    """Write a 2-D uint8 array as a grey PNG, or as a palette PNG when ``palette`` (N x 3 uint8) is given."""
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L" if palette is None else "P")
    if palette is not None:
        image.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
