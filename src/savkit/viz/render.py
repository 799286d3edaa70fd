"""Overlays of a video's masks by video id: one annotated frame as an array, or the whole video as a file.

Annotation k is drawn on video frame 4k. A 24 fps render draws annotation k on frames 4k..4k+3 (SA-V is
annotated at 6 fps, so masks are held until the next annotation); a 6 fps render keeps the annotated frames
only. Without the video (train JSONs without their mp4) masks are drawn on a neutral grey background.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from savkit.annotations import FRAMES_PER_ANNOTATION, VideoAnnotations, check_masklet_type
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path
from savkit.io.video import VideoReader, write_video
from savkit.progress import ProgressCallback, counted
from savkit.viz.overlay import DEFAULT_STYLE, OverlayStyle, neutral_background, prepare_overlay

VIDEO_FPS = 24
RENDER_FPS = (24, 6)


def overlay_frame(
    source: Dataset | str | os.PathLike,
    video_id: str,
    k: int,
    *,
    type: str | None = None,
    ids: list[int] | None = None,
    style: OverlayStyle = DEFAULT_STYLE,
    lenient: bool = False,
) -> np.ndarray:
    """The masks of annotated frame ``k`` drawn over video frame 4k (or a grey frame without video), RGB uint8."""
    dataset = _open(source, lenient)
    annotations = dataset.annotations(video_id)
    index = FRAMES_PER_ANNOTATION * k
    with _open_mp4(dataset, video_id) as reader:
        background = _frame_before_check(reader, index)
        num_annotated = dataset.check_frame_counts(video_id, annotations, reader=reader)
        if not 0 <= k < num_annotated:
            raise SavkitError(
                f"annotated frame {k} is out of range for {video_id}: it has {num_annotated} annotated frames "
                f"(0..{num_annotated - 1}, video frames 0..{FRAMES_PER_ANNOTATION * (num_annotated - 1)})"
            )
        check_selection(annotations, type, ids)
        if background is None and dataset.video_path(video_id) is not None:
            background = dataset.frame(video_id, index) if reader is None else reader.frame(index)
    return draw_annotated_frame(annotations, k, background, type=type, ids=ids, style=style)


def draw_annotated_frame(
    annotations: VideoAnnotations,
    k: int,
    background: np.ndarray | None,
    *,
    type: str | None = None,
    ids: list[int] | None = None,
    style: OverlayStyle = DEFAULT_STYLE,
) -> np.ndarray:
    """The masks of annotated frame ``k`` over ``background`` (video frame 4k; None: grey), RGB uint8.

    For callers that keep annotations and frames themselves (``savkit serve`` caches both); the selection must
    have passed :func:`check_selection`.
    """
    size = (annotations.height, annotations.width)
    overlay = prepare_overlay(annotations.masks(k, type=type, ids=ids), size, style)
    return overlay.draw(neutral_background(*size) if background is None else background)


def render_video(
    source: Dataset | str | os.PathLike,
    video_id: str,
    out: str | os.PathLike,
    *,
    fps: int | None = None,
    type: str | None = None,
    ids: list[int] | None = None,
    style: OverlayStyle = DEFAULT_STYLE,
    lenient: bool = False,
    progress: ProgressCallback | None = None,
) -> int:
    """Write the overlay of a whole video to ``out`` (.mp4 or .gif), streamed; return the number of frames.

    ``fps`` is 24 (every video frame) or 6 (annotated frames only); the default is 24 with a video and 6
    without. ``progress`` hears of each frame written (the CLI draws a bar from it).
    """
    dataset = _open(source, lenient)
    annotations = dataset.annotations(video_id)
    has_video = dataset.video_path(video_id) is not None
    fps = fps or (VIDEO_FPS if has_video else VIDEO_FPS // FRAMES_PER_ANNOTATION)
    if fps not in RENDER_FPS:
        raise SavkitError(f"fps must be 24 (every frame) or 6 (annotated frames), got {fps}")
    step = VIDEO_FPS // fps
    with _open_mp4(dataset, video_id) as reader:
        started = None if reader is None else _started_stream(reader, step)
        num_annotated = dataset.check_frame_counts(video_id, annotations, reader=reader)
        video_frames = dataset.frame_count(video_id) if has_video else annotations.frame_count
        stop = min(video_frames, FRAMES_PER_ANNOTATION * num_annotated)
        size = (annotations.height, annotations.width)
        if started is not None:
            backgrounds = itertools.takewhile(lambda item: item[0] < stop, started)
        elif has_video:
            backgrounds = dataset.frames(video_id, step=step, stop=stop)
        else:
            backgrounds = ((index, neutral_background(*size)) for index in range(0, stop, step))
        check_selection(annotations, type, ids)  # fail before the output file is opened
        drawn = _overlaid(backgrounds, annotations, type, ids, style)
        total = len(range(0, stop, step))
        return write_video(out, counted(drawn, total, progress), fps=fps, crf=20, preset="veryfast")


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Save an RGB frame as PNG or JPEG (by suffix), atomically."""
    target = Path(path)
    image_format = Image.registered_extensions().get(target.suffix.lower())
    if image_format not in ("PNG", "JPEG"):
        raise SavkitError(f"{target}: unsupported image format; use .png or .jpg")
    with atomic_path(target) as tmp:
        Image.fromarray(rgb).save(tmp, format=image_format)
    return target


def _open(source: Dataset | str | os.PathLike, lenient: bool) -> Dataset:
    return source if isinstance(source, Dataset) else Dataset(source, lenient=lenient)


@contextlib.contextmanager
def _open_mp4(dataset: Dataset, video_id: str) -> Iterator[VideoReader | None]:
    """The video's mp4 opened once for the frame-count check and the drawing (None: JPEG frames or no video)."""
    path = dataset.video_path(video_id)
    if dataset.layout != "train" or path is None:
        yield None
        return
    with VideoReader(path) as reader:
        yield reader


def _frame_before_check(reader: VideoReader | None, index: int) -> np.ndarray | None:
    """Frame ``index``, decoded before the frame-count check so that the check takes the displayed size from it
    instead of decoding frame 0 again. None if it cannot be had: the check or the range test says why, or
    decoding it again after them does."""
    if reader is None:
        return None
    with contextlib.suppress(SavkitError):
        return reader.frame(index)
    return None


def _started_stream(reader: VideoReader, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """Frames 0, step, 2 step... of the mp4 with the first already decoded: the packets are listed first (the
    check counts them, the stream seeks with them) and the first frame gives the check the displayed size, so the
    check neither demuxes nor decodes frame 0 a second time. Its errors come in the check's order: packets, then
    frame 0."""
    reader.count_frames()
    stream = reader.frames(step)
    first = next(stream, None)
    return stream if first is None else itertools.chain([first], stream)


def check_selection(annotations: VideoAnnotations, type: str | None, ids: list[int] | None) -> None:
    """The requested type and ids exist in the video (else a SavkitError); checked once, before any drawing."""
    check_masklet_type(type)
    available = {m.id for m in annotations.masklets if type is None or m.type == type}
    missing = sorted(set(ids or []) - available)
    if missing:
        raise SavkitError(
            f"{annotations.video_id} has no {type or 'manual or auto'} masklet with id {missing[0]}; "
            f"its ids are {sorted(available)}"
        )


def _overlaid(
    backgrounds: Iterator[tuple[int, np.ndarray]],
    annotations: VideoAnnotations,
    type: str | None,
    ids: list[int] | None,
    style: OverlayStyle,
) -> Iterator[np.ndarray]:
    """Each background with the overlay of its annotation (frame i -> k = i // 4), prepared once per k.

    The selection was checked by the caller (:func:`check_selection`)."""
    size = (annotations.height, annotations.width)
    prepared_k, overlay = -1, None
    for index, background in backgrounds:
        k = index // FRAMES_PER_ANNOTATION
        if k != prepared_k:
            prepared_k, overlay = k, prepare_overlay(annotations.masks(k, type=type, ids=ids), size, style)
        yield overlay.draw(background)
