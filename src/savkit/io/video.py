"""Streaming video with PyAV: all frames, every k-th frame, or one frame by index, as RGB uint8 (H, W, 3).

Memory stays flat in video length: frames are decoded one at a time and only kept ones are converted to RGB.
Random access is frame-exact: the presentation timestamps of all frames are listed once by demuxing packets
(cheap, no decoding), so frame ``i`` is the ``i``-th smallest timestamp; we seek to the keyframe before it and
decode forward to that exact timestamp (the approach of torchcodec's "exact" seek mode).

Streams that keep only some frames of an H.264 video tell the decoder to skip the non-reference pictures
(``nal_ref_idc`` 0: by the standard no other picture is predicted from them) among the frames not kept; the kept
frames are found by timestamp, so they are exactly those of a full decode (a third fewer frames decoded with
x264's default B-frames). For JPEG output, :func:`jpeg_planes` gives a frame's YUV planes as JPEG stores them,
without a round trip through RGB.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path

CONTAINER_FORMATS = {".mp4": "mp4", ".gif": "gif"}
SKIPPING_CODECS = {"h264"}  # codecs whose "NONREF" skip drops only pictures nothing else is predicted from

# JPEG (JFIF) stores full-range BT.601 YCbCr; most video is limited range (Y 16..235, Cb/Cr 16..240)
_FULL_RANGE_Y = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)
_FULL_RANGE_C = np.clip(np.round((np.arange(256) - 128) * 255 / 224 + 128), 0, 255).astype(np.uint8)
_BT601_SPACES = {2, 5, 6}  # AVColorSpace: unspecified (swscale's default is BT.601), BT.470BG, SMPTE 170M
_FULL_RANGE = 2  # AVColorRange JPEG

_Source = tuple[av.container.InputContainer, av.video.stream.VideoStream]


class VideoReader:
    """A video file opened for streaming and frame-exact random access; use it as a context manager.

    One container serves everything (opening one costs milliseconds). Only while a :meth:`frames` stream reads
    it do random access and a second stream get containers of their own.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._path = Path(path)
        self._container, self._stream = _open_video_stream(self._path)
        self._untouched = True  # nothing demuxed or decoded yet: a stream from frame 0 needs no seek
        self._streaming = False  # a frames() stream is reading self._container
        self._spare: _Source | None = None  # random access while a frames() stream reads self._container
        self._timestamps: list[int] | None = None
        self._frame_index: dict[int, int] = {}  # timestamp -> frame index, once timestamps are listed
        self._unique_timestamps = False  # every packet shown, each timestamp once: frames indexable by it
        self._display_size: tuple[int, int] | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def width(self) -> int:
        """Width as displayed (after the rotation stored in the file), like the frames returned."""
        return self._displayed_size()[0]

    @property
    def height(self) -> int:
        return self._displayed_size()[1]

    @property
    def fps(self) -> float:
        """Average frame rate from the container (0.0 if unknown)."""
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    @property
    def frame_count(self) -> int:
        """Frame count stored in the container metadata (0 if unknown); :meth:`count_frames` is exact."""
        return self._stream.frames

    def frames(
        self, step: int = 1, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, rgb)`` for frames start, start + step... before ``stop``; only kept ones become RGB.

        A ``start`` > 0 (or a container already read from) seeks to the keyframe before it rather than decoding
        from the beginning. :meth:`frame` can be used on the same reader while the stream runs.
        """
        for index, frame in self.video_frames(step, start, stop):
            yield index, to_rgb(frame)

    def video_frames(
        self, step: int = 1, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """Like :meth:`frames`, but the decoded frames themselves (for :func:`jpeg_planes`, or any format)."""
        if step < 1 or start < 0:
            raise SavkitError(f"frame step must be >= 1 and start >= 0, got step={step}, start={start}")

        def kept(index: int) -> bool:
            return index >= start and (index - start) % step == 0 and (stop is None or index < stop)

        with self._stream_source() as (container, stream, untouched):
            skip_unkept = step > 1 or start > 0
            for index, frame in self._decoded(container, stream, untouched, start, kept, skip_unkept):
                if stop is not None and index >= stop:
                    return
                if kept(index):
                    self._remember_display_size(frame)
                    yield index, frame

    def _decoded(
        self,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        untouched: bool,
        start: int,
        kept: Callable[[int], bool],
        skip_unkept: bool,
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """``(index, frame)`` from frame ``start`` on, in order; frames not ``kept`` may be left out.

        From an untouched container with every frame wanted, frames are counted as decoded (no listing pass);
        otherwise they are indexed by timestamp, which lets H.264 decoding skip unkept non-reference frames.
        """
        skipping = skip_unkept and stream.codec_context.name in SKIPPING_CODECS
        if start == 0 and untouched and not skipping:
            yield from enumerate(_decode(container, stream, self._path))
            return
        timestamps = self._presentation_timestamps((container, stream))
        if start >= len(timestamps):
            return
        first = timestamps[start]
        container.seek(first, stream=stream, backward=True, any_frame=False)
        if skipping and self._unique_timestamps:
            yield from _decode_skipping(container, stream, self._path, self._frame_index, kept)
            return
        decoded = itertools.dropwhile(lambda frame: frame.pts < first, _decode(container, stream, self._path))
        yield from enumerate(decoded, start)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based, display order), exact: seek to the keyframe before it, decode forward."""
        timestamps = self._presentation_timestamps()
        if not 0 <= index < len(timestamps):
            raise SavkitError(
                f"{self._path}: frame {index} is out of range; the video has {len(timestamps)} frames "
                f"(0..{len(timestamps) - 1})"
            )
        target = timestamps[index]
        container, stream = self._random_access_source()
        container.seek(target, stream=stream, backward=True, any_frame=False)
        for frame in _decode(container, stream, self._path):
            if frame.pts == target:
                self._remember_display_size(frame)
                return to_rgb(frame)
            if frame.pts is not None and frame.pts > target:
                break
        raise SavkitError(
            f"{self._path}: could not decode frame {index} (timestamp {target}); the file may be damaged"
        )

    def count_frames(self) -> int:
        """Exact number of frames, counted by demuxing packets (no decoding)."""
        return len(self._presentation_timestamps())

    def close(self) -> None:
        self._container.close()
        if self._spare is not None:
            self._spare[0].close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoReader({str(self._path)!r}, {self.width}x{self.height}, {self.fps:g} fps)"

    def _displayed_size(self) -> tuple[int, int]:
        """(width, height) of the displayed frames: the coded size, swapped by a quarter-turn rotation.

        The rotation is known only from a decoded frame (PyAV does not read the stream's display matrix): the
        first frame this reader decodes gives it, else frame 0 is decoded for it.
        """
        if self._display_size is None:
            container, stream = self._random_access_source()
            container.seek(0, stream=stream, backward=True, any_frame=False)
            first = next(_decode(container, stream, self._path), None)
            if first is None:
                self._display_size = (stream.codec_context.width, stream.codec_context.height)
            else:
                self._remember_display_size(first)
        return self._display_size

    def _remember_display_size(self, frame: av.VideoFrame) -> None:
        """The displayed size, from the first frame decoded (every frame of a stream has its display matrix)."""
        if self._display_size is None:
            turned = _quarter_turns(frame) % 2 == 1
            self._display_size = (frame.height, frame.width) if turned else (frame.width, frame.height)

    def _presentation_timestamps(self, source: _Source | None = None) -> list[int]:
        """Sorted presentation timestamps of all frames, listed once per reader from the packets of ``source``
        (by default the random-access container)."""
        if self._timestamps is None:
            container, stream = source or self._random_access_source()
            container.seek(0, stream=stream, backward=True, any_frame=False)
            try:
                packets = [
                    (packet.pts, packet.is_discard) for packet in container.demux(stream) if packet.size > 0
                ]
            except av.error.FFmpegError as exc:
                raise SavkitError(
                    f"{self._path}: cannot read the video packets ({ffmpeg_reason(exc)}); re-download the file"
                ) from None
            timestamps = [pts for pts, _ in packets]
            if None in timestamps:
                raise SavkitError(
                    f"{self._path}: frames without timestamps; remux the video to mp4 (ffmpeg -c copy)"
                )
            self._timestamps = sorted(timestamps)
            self._frame_index = {pts: index for index, pts in enumerate(self._timestamps)}
            discarded = any(discard for _, discard in packets)
            self._unique_timestamps = len(self._frame_index) == len(timestamps) and not discarded
        return self._timestamps

    def _random_access_source(self) -> _Source:
        """The container to seek in: the reader's own, or a spare one (kept) while a stream reads that."""
        if not self._streaming:
            self._untouched = False
            return self._container, self._stream
        if self._spare is None:
            self._spare = _open_video_stream(self._path)
        return self._spare

    @contextmanager
    def _stream_source(
        self,
    ) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream, bool]]:
        """The container a frames() stream reads, and whether nothing was read from it yet.

        The reader's own container, unless another stream is reading it: then a private one, closed after.
        """
        if self._streaming:
            container, stream = _open_video_stream(self._path)
            with container:
                yield container, stream, True
            return
        untouched, self._untouched, self._streaming = self._untouched, False, True
        try:
            yield self._container, self._stream, untouched
        finally:
            self._streaming = False


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 24,
    *,
    crf: int = 18,
    preset: str = "medium",
    options: dict[str, str] | None = None,
) -> int:
    """Write RGB uint8 frames to ``path`` (.mp4: H.264 yuv420p, or .gif), streamed, atomic; return the count.

    ``crf``, ``preset`` and extra ``options`` (e.g. ``{"g": "12"}``: a keyframe every 12 frames) are libx264
    settings, ignored for GIF. Odd sizes are padded by one edge pixel: yuv420p needs even width and height.
    """
    target = Path(path)
    container_format = CONTAINER_FORMATS.get(target.suffix.lower())
    if container_format is None:
        raise SavkitError(f"{target}: unsupported video format; use one of {', '.join(CONTAINER_FORMATS)}")
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_path(target) as tmp, av.open(str(tmp), mode="w", format=container_format) as container:
        stream = None
        for rgb in frames:
            _check_rgb(rgb)
            if stream is None:
                encoder_options = {"crf": str(crf), "preset": preset, **(options or {})}
                stream = _add_output_stream(container, container_format, rgb.shape, rate, encoder_options)
                first_shape = rgb.shape
            if rgb.shape != first_shape:
                raise SavkitError(
                    f"{target}: all frames must have the same shape: {rgb.shape} != {first_shape}"
                )
            container.mux(stream.encode(_to_video_frame(rgb, stream, count)))
            count += 1
        if stream is None:
            raise SavkitError(f"{target}: no frames to write")
        container.mux(stream.encode())
    return count


def _open_video_stream(path: Path) -> _Source:
    if not path.is_file():
        raise SavkitError(f"video not found: {path}; check the path (train videos are {{video_id}}.mp4)")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise SavkitError(
            f"{path}: not a valid video ({ffmpeg_reason(exc)}); re-download or re-encode the file"
        ) from None
    if not container.streams.video:
        container.close()
        raise SavkitError(f"{path}: the file has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    """FFmpeg's failure in words for a message: PyAV's text starts with a raw error number (``[Errno
    1094995529] Invalid data found when processing input: 'x.mp4'``), which tells a user nothing."""
    if isinstance(exc, av.error.InvalidDataError):
        return "invalid data"
    reason = (exc.strerror or type(exc).__name__).strip().rstrip(".")
    return reason[:1].lower() + reason[1:]


def _decode(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: Path
) -> Iterator[av.VideoFrame]:
    """Decode frames in presentation order, turning FFmpeg failures into a SavkitError."""
    with _damage_reported(path):
        yield from container.decode(stream)


@contextmanager
def _damage_reported(path: Path) -> Iterator[None]:
    """FFmpeg failures while decoding as a SavkitError naming the file."""
    try:
        yield
    except av.error.FFmpegError as exc:
        raise SavkitError(
            f"{path}: the video is damaged ({ffmpeg_reason(exc)}); re-download or re-encode the file"
        ) from None


def _decode_skipping(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    frame_index: dict[int, int],
    kept: Callable[[int], bool],
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decode from the current position, telling the decoder before each packet whether its frame is kept:
    if not, a non-reference picture is skipped (frame threads take the setting with the packet). Frames are
    indexed by timestamp, so a skipped frame shifts no index."""
    context = stream.codec_context
    try:
        with _damage_reported(path):
            for packet in container.demux(stream):
                if packet.size > 0:
                    index = frame_index.get(packet.pts)
                    context.skip_frame = "DEFAULT" if index is None or kept(index) else "NONREF"
                for frame in packet.decode():
                    index = frame_index.get(frame.pts)
                    if index is None:
                        raise SavkitError(
                            f"{path}: a decoded frame has a timestamp ({frame.pts}) no packet announced; "
                            "remux the video to mp4 (ffmpeg -c copy)"
                        )
                    yield index, frame
    finally:
        context.skip_frame = "DEFAULT"


def jpeg_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The frame as displayed in full-range BT.601 4:2:0 planes (Y, Cb, Cr), as a JPEG stores them; None for
    odd sizes (JPEG encoders read 4:2:0 planes padded to even sizes): convert those to RGB instead.

    8-bit 4:2:0 BT.601 frames (or untagged, which swscale also reads as BT.601) only have their range
    stretched by a lookup table; other formats and colour spaces are converted by swscale.
    """
    if frame.width % 2 or frame.height % 2:
        return None
    turns = _quarter_turns(frame)
    direct = frame.format.name in ("yuv420p", "yuvj420p") and frame.colorspace in _BT601_SPACES
    if not direct:
        frame = frame.reformat(format="yuvj420p", dst_colorspace="ITU601", dst_color_range="JPEG")
    full_range = frame.format.name == "yuvj420p" or frame.color_range == _FULL_RANGE
    sizes = [(frame.height, frame.width)] + 2 * [(frame.height // 2, frame.width // 2)]
    planes = [_plane(frame, k, size) for k, size in enumerate(sizes)]
    if not full_range:
        planes = [cv2.LUT(plane, _FULL_RANGE_C if k else _FULL_RANGE_Y) for k, plane in enumerate(planes)]
    if turns:
        planes = [np.ascontiguousarray(np.rot90(plane, turns)) for plane in planes]
    return planes[0], planes[1], planes[2]


def _plane(frame: av.VideoFrame, k: int, size: tuple[int, int]) -> np.ndarray:
    """Plane ``k`` as a (height, width) view of the frame's buffer (rows may be padded)."""
    plane = frame.planes[k]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: size[0], : size[1]]


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """RGB array as displayed: phone videos often store a rotation instead of rotated pixels (as OpenCV does)."""
    return np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), _quarter_turns(frame)))


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns of the frame's display matrix (0 without one)."""
    return round(frame.rotation / 90) % 4


def _add_output_stream(
    container: av.container.OutputContainer,
    container_format: str,
    shape: tuple[int, ...],
    rate: Fraction,
    encoder_options: dict[str, str],
) -> av.video.stream.VideoStream:
    height, width = shape[0], shape[1]
    if container_format == "gif":
        stream = container.add_stream("gif", rate=rate)
        stream.pix_fmt = "rgb8"
    else:
        stream = container.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = encoder_options
        height, width = height + height % 2, width + width % 2
    stream.width, stream.height = width, height
    return stream


def _to_video_frame(rgb: np.ndarray, stream: av.video.stream.VideoStream, index: int) -> av.VideoFrame:
    pad_h, pad_w = stream.height - rgb.shape[0], stream.width - rgb.shape[1]
    if pad_h or pad_w:
        rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    frame.pts = index
    return frame


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise SavkitError(f"video frames must be uint8 RGB arrays (H, W, 3), got {rgb.dtype} {rgb.shape}")
