"""Extract JPEG frames from every mp4 under a folder: ``OUT/{video_id}/{index:05d}.jpg``, named by 24 fps index.

This is the layout SAM 2 training and SA-V val/test (``JPEGImages_24fps``) expect; with ``every=4`` the names are
00000, 00004, ... (the annotated frames). Videos are streamed (memory flat in length) and frame-exact: frames are
indexed by presentation timestamp, and the H.264 decoder skips the non-reference frames that are not kept
(``VideoReader.video_frames``).

JPEG encoder: libjpeg-turbo through simplejpeg, fed the decoder's own YUV 4:2:0 planes (range-stretched to
JPEG's full range, ``savkit.io.video.jpeg_planes``): no conversion to RGB and back, no chroma resampling. On
1080p frames that is about 6 ms of CPU a frame against 8 ms for RGB conversion + ``cv2.imencode`` (also
libjpeg-turbo, 4:2:0) and 12 ms for PyAV's mjpeg encoder (benchmarks/bench_convert.py). Odd-sized frames go
through RGB and OpenCV. One encoder thread runs beside the decoder (both release the GIL), so decoding does not
wait for the previous frame's encode and write.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import simplejpeg

from savkit.convert.sources import find_files, run_video_tasks
from savkit.errors import SavkitError
from savkit.io.video import VideoReader, jpeg_planes, to_rgb
from savkit.parallel import RunReport, VideoStats, write_video_output
from savkit.progress import ProgressCallback

DEFAULT_QUALITY = 95  # what the official SA-V extraction (cv2.imwrite defaults) produces
ENCODER_THREADS = 1  # the decoder has its own threads; more encoder threads only add contention


@dataclass(frozen=True)
class FramesTask:
    """One video to extract (picklable, so it can travel to a worker process or a Dask worker)."""

    video: Path
    out_dir: Path
    every: int
    quality: int
    overwrite: bool

    @property
    def video_id(self) -> str:
        return self.video.stem

    @property
    def sources(self) -> tuple[Path, ...]:
        return (self.video,)

    @property
    def settings(self) -> dict:
        """What the frames depend on, recorded with them: a re-run with other settings is refused."""
        return frames_settings(self.every, self.quality)


def frames_settings(every: int, quality: int) -> dict:
    return {"command": "extract-frames", "every": every, "quality": quality}


def extract_frames(
    src: str | os.PathLike,
    out: str | os.PathLike,
    every: int = 1,
    quality: int = DEFAULT_QUALITY,
    *,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: Any = None,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Extract every ``every``-th frame of each mp4 under ``src`` (recursively) into ``out``, one task per video.

    Resumable: finished videos are skipped unless ``overwrite``; ``out`` written with other settings is an error
    unless ``overwrite``. Results are ``VideoStats`` keyed by video id; a corrupt video is a failure of its own
    and does not stop the others.
    """
    if every < 1:
        raise SavkitError(f"--every must be >= 1, got {every}")
    if not 1 <= quality <= 100:
        raise SavkitError(f"JPEG quality must be in 1..100, got {quality}")
    tasks = [
        FramesTask(video, Path(out), every, quality, overwrite) for video in find_files(src, ".mp4", "videos")
    ]
    return run_video_tasks(
        extract_video_frames,
        tasks,
        src=src,
        out=out,
        settings=frames_settings(every, quality),
        overwrite=overwrite,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )


def extract_video_frames(task: FramesTask) -> VideoStats:
    """Extract one video into ``out_dir/video_id`` (skipped if complete): the task of ``extract_frames``."""

    def write(folder: Path) -> int:
        with VideoReader(task.video) as reader:
            announced = reader.frame_count
            last_index = _write_jpegs(reader.video_frames(task.every), folder, task.quality)
        _check_complete(task, last_index, announced)
        return last_index // task.every + 1  # the JPEGs expected: frames 0, every, ..., last_index

    return write_video_output(task.out_dir, task.video_id, write, task.overwrite, task.settings)


def _write_jpegs(frames, folder: Path, quality: int) -> int:
    """Encode and write frames in background threads, a few frames queued; return the last index (-1: none)."""
    last_index = -1
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(ENCODER_THREADS) as pool:
        for index, frame in frames:
            pending.append(pool.submit(_write_jpeg, folder / f"{index:05d}.jpg", frame, quality))
            if len(pending) > 2 * ENCODER_THREADS:
                pending.popleft().result()
            last_index = index
        for future in pending:
            future.result()
    return last_index


def _write_jpeg(path: Path, frame: av.VideoFrame, quality: int) -> None:
    path.write_bytes(encode_jpeg(frame, quality))


def encode_jpeg(frame: av.VideoFrame, quality: int) -> bytes:
    """JPEG (4:2:0, libjpeg ``quality``) of a decoded frame as displayed."""
    planes = jpeg_planes(frame)
    if planes is not None:
        return simplejpeg.encode_jpeg_yuv_planes(*planes, quality=quality)
    bgr = cv2.cvtColor(to_rgb(frame), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SavkitError(f"JPEG encoding failed for a {frame.width}x{frame.height} frame")
    return encoded.tobytes()


def _check_complete(task: FramesTask, last_index: int, announced: int) -> None:
    """A truncated mp4 decodes fewer frames than its header announces: a failure, not a short output.

    Only every ``every``-th frame is seen: the decoded count lies in (last_index, last_index + every].
    """
    if last_index < 0:
        raise SavkitError(f"{task.video}: no frame could be decoded; re-download the video")
    if announced and not last_index < announced <= last_index + task.every:
        raise SavkitError(
            f"{task.video}: decoding stopped near frame {last_index + 1} of {announced}; the file is truncated"
        )
