"""Where ``import-masks`` takes a video's metadata from: its mp4, its JPEG frames, or (failing both) its masks.

Mask PNGs hold the video's size, but not its frame count (the frames after the last annotated one are not
annotated: a 483-frame video has masks up to frame 480), nor its duration. Read from the mp4, the frame count is
exact (packets counted) and the duration is frames / frame rate, as the released JSONs store it (483 / 24 =
20.125 s); from a 24 fps JPEG folder (val/test ``JPEGImages_24fps``), frames are counted and the rate is 24 fps.
Without either, the values are guesses, and the result says which fields were guessed and how.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from savkit.annotations import FRAMES_PER_ANNOTATION
from savkit.annotations.valtest import VALTEST_FPS, jpeg_frames, jpeg_size
from savkit.errors import SavkitError
from savkit.io.video import VideoReader

MP4, JPEGS, MASKS = "mp4", "JPEG frames", "masks"


@dataclass(frozen=True)
class Guess:
    """A field written without a source for it, and how its value was chosen."""

    field: str
    how: str


@dataclass(frozen=True)
class VideoMetadata:
    """A video's frame count, duration and size, the kind of source they came from, and what was guessed."""

    frame_count: int
    duration: float
    height: int
    width: int
    source: str
    guessed: tuple[Guess, ...] = ()


def from_mp4(mp4: Path) -> VideoMetadata:
    """Exact frame count (packets counted), displayed size, and duration = frames / average frame rate."""
    with VideoReader(mp4) as reader:
        frames, fps = reader.count_frames(), reader.fps
        height, width = reader.height, reader.width
    if fps <= 0:
        raise SavkitError(f"{mp4}: the video stores no frame rate; re-encode it or give its JPEG frames")
    return VideoMetadata(frames, frames / fps, height, width, MP4)


def from_jpegs(folder: Path) -> VideoMetadata | None:
    """From a 24 fps frame folder (00000.jpg, 00001.jpg...), or None when it holds no frame JPEG.

    A folder that skips frames (``extract-frames --every 4``) gives the last frame + 1 as a guess."""
    jpegs = jpeg_frames(folder)
    if not jpegs:
        return None
    height, width = jpeg_size(jpegs[0])
    frames = int(jpegs[-1].stem) + 1
    guessed = ()
    if frames != len(jpegs):
        guessed = (Guess("video_frame_count", "last JPEG frame + 1 (the JPEG folder skips frames)"),)
    return VideoMetadata(frames, frames / VALTEST_FPS, height, width, JPEGS, guessed)


def from_masks(last_annotated_frame: int, size: tuple[int, int]) -> VideoMetadata:
    """The guess without a video: frames up to the last annotated one, at 24 fps (SA-V's rate)."""
    frames = last_annotated_frame + 1
    guessed = (
        Guess(
            "video_frame_count",
            f"last annotated frame + 1 (the video may have up to {FRAMES_PER_ANNOTATION - 1} more frames)",
        ),
        Guess("video_duration", f"frame count / {VALTEST_FPS:g} fps"),
    )
    return VideoMetadata(frames, frames / VALTEST_FPS, *size, MASKS, guessed)
