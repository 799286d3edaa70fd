"""Overlays of a video's masks by video id: one annotated frame as an array, or the whole video as a file.

Annotation k is drawn on video frame 4k. A 24 fps render draws annotation k on frames 4k..4k+3 (SA-V is
annotated at 6 fps, so masks are held until the next annotation); a 6 fps render keeps the annotated frames
only. Without the video (train JSONs without their mp4) masks are drawn on a neutral grey background.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from savkit.annotations import FRAMES_PER_ANNOTATION, VideoAnnotations, check_masklet_type
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.io.atomic import atomic_path
from savkit.io.video import write_video
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
    num_annotated = dataset.check_frame_counts(video_id, annotations)
    if not 0 <= k < num_annotated:
        raise SavkitError(
            f"annotated frame {k} is out of range for {video_id}: it has {num_annotated} annotated frames "
            f"(0..{num_annotated - 1}, video frames 0..{FRAMES_PER_ANNOTATION * (num_annotated - 1)})"
        )
    check_selection(annotations, type, ids)
    background = None
    if dataset.video_path(video_id) is not None:
        background = dataset.frame(video_id, FRAMES_PER_ANNOTATION * k)
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
    num_annotated = dataset.check_frame_counts(video_id, annotations)
    has_video = dataset.video_path(video_id) is not None
    fps = fps or (VIDEO_FPS if has_video else VIDEO_FPS // FRAMES_PER_ANNOTATION)
    if fps not in RENDER_FPS:
        raise SavkitError(f"fps must be 24 (every frame) or 6 (annotated frames), got {fps}")
    step = VIDEO_FPS // fps
    video_frames = dataset.frame_count(video_id) if has_video else annotations.frame_count
    stop = min(video_frames, FRAMES_PER_ANNOTATION * num_annotated)
    size = (annotations.height, annotations.width)
    if has_video:
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
