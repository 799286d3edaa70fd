"""Frames for ``savkit serve``: decoded video frames, the library's overlays drawn on them, JPEG bytes, all cached.

Stepping through a video must feel instant, so three things are kept, each bounded: encoded JPEGs (an LRU by
bytes), decoded frames (an LRU by bytes: toggling a masklet redraws without decoding again), and per video its
parsed annotations and an open reader. A reader keeps a forward stream of every 4th frame (the annotated ones):
the next annotated frame costs 4 decoded frames instead of a seek to the previous keyframe, which is what
playback and the → key ask for. A frame far from the stream's position restarts it with a frame-exact seek.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from savkit.annotations import FRAMES_PER_ANNOTATION, VideoAnnotations, rle
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.io.video import VideoReader
from savkit.viz import (
    OverlayStyle,
    check_selection,
    draw_annotated_frame,
    neutral_background,
    prepare_overlay,
)

JPEG_QUALITY = 90
THUMBNAIL_WIDTH = 320
MAX_FORWARD_FRAMES = 96  # decoding forward this far is cheaper than seeking back to a keyframe
OPEN_READERS = 4
KEPT_ANNOTATIONS = 32


class ByteLRU:
    """A thread-safe least-recently-used cache bounded by the total size of its values in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            item = _recently_used(self._items, key)
        return None if item is None else item[0]

    def put(self, key: Hashable, value: object, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class _Stream:
    """An open mp4 and a forward stream of every 4th frame from some position, one request at a time."""

    def __init__(self, reader: VideoReader) -> None:
        self.reader = reader
        self.lock = threading.Lock()
        self._frames: Iterator[tuple[int, np.ndarray]] | None = None
        self._next = -1

    def frame(self, index: int, keep: Callable[[int, np.ndarray], None]) -> np.ndarray:
        """Video frame ``index``; frames decoded on the way to it are handed to ``keep``."""
        ahead = index - self._next
        if self._frames is None or not 0 <= ahead <= MAX_FORWARD_FRAMES or ahead % FRAMES_PER_ANNOTATION:
            self.close_stream()
            self._frames, self._next = self.reader.frames(step=FRAMES_PER_ANNOTATION, start=index), index
        for position, rgb in self._frames:
            self._next = position + FRAMES_PER_ANNOTATION
            if position == index:
                return rgb
            keep(position, rgb)
        self.close_stream()
        raise SavkitError(f"{self.reader.path}: frame {index} could not be decoded; the video may be damaged")

    def close_stream(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self._frames, self._next = None, -1

    def close(self) -> None:
        self.close_stream()
        self.reader.close()


@dataclass(frozen=True)
class VideoState:
    """A video's parsed annotations and how many annotated frames can be paired with its frames."""

    annotations: VideoAnnotations
    annotated_frames: int


class FrameServer:
    """Overlay JPEGs, thumbnails and per-frame masklet facts of a dataset's videos, with bounded caches."""

    def __init__(self, dataset: Dataset, cache_bytes: int = 512 << 20) -> None:
        self.dataset = dataset
        self.jpegs = ByteLRU(cache_bytes // 4)
        self.frames = ByteLRU(cache_bytes - cache_bytes // 4)
        self._states: OrderedDict[str, VideoState] = OrderedDict()
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, video_id: str) -> VideoState:
        """Parsed annotations of a video (kept for the last few videos), frame counts checked once."""
        with self._lock:
            state = _recently_used(self._states, video_id)
        if state is not None:
            return state
        annotations = self.dataset.annotations(video_id)
        state = VideoState(annotations, self._check_frame_counts(video_id, annotations))
        with self._lock:
            self._states[video_id] = state
            while len(self._states) > KEPT_ANNOTATIONS:
                self._states.popitem(last=False)
        return state

    def _check_frame_counts(self, video_id: str, annotations: VideoAnnotations) -> int:
        """``Dataset.check_frame_counts`` measured with the video's open stream: frame 0, decoded (and kept) for
        the first overlay anyway, gives the displayed size, so the check neither opens nor decodes it again."""
        if self.dataset.layout == "valtest" or self.dataset.video_path(video_id) is None:
            return self.dataset.check_frame_counts(video_id, annotations)
        stream = self._stream(video_id)
        with stream.lock:
            if self.frames.get((video_id, 0)) is None:
                with contextlib.suppress(SavkitError):  # a damaged frame 0: measured without it, as before
                    self._keep(video_id, 0, stream.frame(0, lambda i, frame: self._keep(video_id, i, frame)))
            return self.dataset.check_frame_counts(video_id, annotations, reader=stream.reader)

    def overlay_jpeg(self, video_id: str, k: int, type: str | None, ids: list[int] | None) -> bytes:
        """Annotated frame ``k`` with the selected masklets drawn by the library (``type`` None: no masks)."""
        key = ("overlay", video_id, k, type, None if ids is None else tuple(sorted(ids)))
        cached = self.jpegs.get(key)
        if cached is not None:
            return cached
        state = self.state(video_id)
        self.check_annotated_frame(video_id, k)
        background = self.background(video_id, FRAMES_PER_ANNOTATION * k)
        if type is None:
            size = (state.annotations.height, state.annotations.width)
            rgb = neutral_background(*size) if background is None else background
        else:
            check_selection(state.annotations, type, ids)
            rgb = draw_annotated_frame(state.annotations, k, background, type=type, ids=ids)
        return self._encoded(key, rgb)

    def thumbnail_jpeg(self, video_id: str) -> bytes:
        """Annotated frame 0 with its manual masklets, THUMBNAIL_WIDTH pixels wide."""
        key = ("thumbnail", video_id)
        cached = self.jpegs.get(key)
        if cached is not None:
            return cached
        rgb = draw_annotated_frame(self._annotations(video_id), 0, self._first_frame(video_id), type="manual")
        height = max(1, round(rgb.shape[0] * THUMBNAIL_WIDTH / rgb.shape[1]))
        small = cv2.resize(rgb, (THUMBNAIL_WIDTH, height), interpolation=cv2.INTER_AREA)
        return self._encoded(key, small)

    def masks_jpeg(
        self, video_id: str, frame: int, masks: dict[tuple[str, int], np.ndarray], tag: str
    ) -> bytes:
        """``masks`` drawn over video frame ``frame`` (grey without frames), cached under ``tag``."""
        key = ("masks", video_id, frame, tag)
        cached = self.jpegs.get(key)
        if cached is not None:
            return cached
        annotations = self.state(video_id).annotations
        size = (annotations.height, annotations.width)
        background = self.background(video_id, frame)
        overlay = prepare_overlay(masks, size, OverlayStyle(labels=False))
        return self._encoded(
            key, overlay.draw(neutral_background(*size) if background is None else background)
        )

    def masklets_at(self, video_id: str, k: int, type: str, point: tuple[int, int] | None) -> list[dict]:
        """The masklets of ``type`` visible on annotated frame ``k`` (only those covering ``point`` = (x, y)
        when given), with their area there and, for auto masklets, their stability score on that frame."""
        state = self.state(video_id)
        self.check_annotated_frame(video_id, k)
        found = []
        for masklet in state.annotations.masklets:
            if masklet.type != type:
                continue
            area = int(rle.area([masklet.rles[k]])[0]) if k < len(masklet) else 0
            if area == 0 or (point is not None and not _covers(masklet.rles[k], point)):
                continue
            score = masklet.stability_score[k] if masklet.stability_score else None
            found.append({"id": masklet.id, "type": masklet.type, "area": area, "stability_score": score})
        return found

    def _annotations(self, video_id: str) -> VideoAnnotations:
        """The annotations kept for an opened video, else read without keeping them (a list page's thumbnails
        would push out the videos being looked at)."""
        with self._lock:
            state = self._states.get(video_id)
        return state.annotations if state is not None else self.dataset.annotations(video_id)

    def _first_frame(self, video_id: str) -> np.ndarray | None:
        """Video frame 0 for a thumbnail: from the cache, or decoded first thing (no frame count, no seek)."""
        path = self.dataset.video_path(video_id)
        if path is None:
            return None
        cached = self.frames.get((video_id, 0))
        if cached is not None:
            return cached
        if self.dataset.layout == "valtest":
            return self.dataset.frame(video_id, 0)
        with VideoReader(path) as reader:
            for _, rgb in reader.frames(stop=1):
                return rgb
        raise SavkitError(f"{path}: no frame could be decoded; the video may be damaged")

    def check_annotated_frame(self, video_id: str, k: int) -> None:
        count = self.state(video_id).annotated_frames
        if not 0 <= k < count:
            raise FrameOutOfRange(f"{video_id} has {count} annotated frames (0..{count - 1}), not {k}")

    def background(self, video_id: str, index: int) -> np.ndarray | None:
        """Video frame ``index`` as RGB (None when the video has no frames on disk), decoded once while cached."""
        if self.dataset.video_path(video_id) is None:
            return None
        cached = self.frames.get((video_id, index))
        if cached is not None:
            return cached
        if self.dataset.layout == "valtest":
            rgb = self.dataset.frame(video_id, index)
        else:
            stream = self._stream(video_id)
            with stream.lock:
                rgb = stream.frame(index, lambda i, frame: self._keep(video_id, i, frame))
        self._keep(video_id, index, rgb)
        return rgb

    def close(self) -> None:
        with self._lock:
            streams, self._streams = list(self._streams.values()), OrderedDict()
        for stream in streams:
            with stream.lock:
                stream.close()

    def _keep(self, video_id: str, index: int, rgb: np.ndarray) -> None:
        rgb.flags.writeable = False  # shared by every request that hits the cache
        self.frames.put((video_id, index), rgb, rgb.nbytes)

    def _stream(self, video_id: str) -> _Stream:
        with self._lock:
            stream = _recently_used(self._streams, video_id)
            if stream is not None:
                return stream
            stream = self._streams[video_id] = _Stream(VideoReader(self.dataset.video_path(video_id)))
            evicted = self._streams.popitem(last=False)[1] if len(self._streams) > OPEN_READERS else None
        if evicted is not None:
            with evicted.lock:
                evicted.close()
        return stream

    def _encoded(self, key: Hashable, rgb: np.ndarray) -> bytes:
        ok, buffer = cv2.imencode(
            ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        if not ok:
            raise SavkitError(f"could not encode a {rgb.shape} frame as JPEG")
        data = buffer.tobytes()
        self.jpegs.put(key, data, len(data))
        return data


def _recently_used(items: OrderedDict, key: Hashable) -> object | None:
    """``items[key]`` marked as the most recently used (moved to the end), or None; the caller holds the lock."""
    item = items.get(key)
    if item is not None:
        items.move_to_end(key)
    return item


class FrameOutOfRange(SavkitError):
    """An annotated frame number outside the video (the web layer answers 404)."""


def _covers(encoded: dict, point: tuple[int, int]) -> bool:
    """Whether an RLE mask covers pixel (x, y), from its run lengths (column-major), without decoding it."""
    height, width = encoded["size"]
    x, y = point
    if not (0 <= x < width and 0 <= y < height):
        return False
    counts = encoded["counts"]
    runs = rle.run_lengths(counts.decode("ascii") if isinstance(counts, bytes) else counts)
    if runs is None:
        return bool(rle.decode(encoded)[y, x])
    ends = np.cumsum(runs)
    run = int(np.searchsorted(ends, x * height + y, side="right"))
    return run % 2 == 1  # runs alternate background, foreground, starting with background
