"""One entry point over an SA-V folder: list its video ids, open a video's annotations and frames by id.

A train folder holds ``{id}.mp4`` with ``{id}_manual.json`` / ``{id}_auto.json``, found recursively (the released
tar files unpack into ``sav_000/``, ``sav_001/``...). A val/test folder holds ``JPEGImages_24fps/`` and
``Annotations_6fps/``. Annotation k belongs to video frame 4k, so before pairing them the video's frame count is
checked against ``video_frame_count`` and every masklet's length against ceil(frames / 4): a mismatch means
masks would land on the wrong frames, so it is an error (or a warning with ``lenient=True``).
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from savkit.annotations import (
    FRAMES_PER_ANNOTATION,
    VideoAnnotations,
    annotated_frame_count,
    check_masklet_type,
    read_train_video,
    read_valtest_video,
)
from savkit.annotations.sav_json import parse_train_json_name
from savkit.annotations.valtest import ANNOTATIONS_DIR, JPEG_DIR, jpeg_frames, jpeg_size, subfolders
from savkit.errors import SavkitError
from savkit.io.files import open_regular
from savkit.io.names import IgnoredEntriesWarning, ignored_message, split_ignored, visible_entries
from savkit.io.video import VideoReader

Masks = dict[tuple[str, int], np.ndarray]


class FrameCountWarning(UserWarning):
    """A frame count or masklet length that does not match, let through because ``lenient=True``."""


@dataclass
class _VideoFiles:
    """Where one video's annotations and frames are: JSON files (train) and the mp4 or the JPEG folder."""

    jsons: list[Path] = field(default_factory=list)
    frames: Path | None = None
    frames_and_size: tuple[int, int, int] | None = None  # measured on first use


class Dataset:
    """An SA-V train or val/test folder, indexed once by video id."""

    def __init__(self, root: str | os.PathLike, *, lenient: bool = False) -> None:
        self.root = Path(root)
        self.lenient = lenient
        if not self.root.is_dir():
            raise SavkitError(
                f"{self.root}: not a folder; give an SA-V train folder (mp4 + JSON) "
                f"or a val/test folder ({JPEG_DIR} + {ANNOTATIONS_DIR})"
            )
        self.split_root = self.root.parent if self.root.name == ANNOTATIONS_DIR else self.root
        self.layout = "valtest" if (self.split_root / ANNOTATIONS_DIR).is_dir() else "train"
        self._videos = (
            _index_valtest(self.split_root) if self.layout == "valtest" else _index_train(self.root)
        )

    @property
    def video_ids(self) -> list[str]:
        return list(self._videos)

    def __len__(self) -> int:
        return len(self._videos)

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._videos

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, {self.layout}, {len(self)} videos)"

    def annotations(self, video_id: str) -> VideoAnnotations:
        """All masklets of a video (manual first, then auto), masks still RLE-encoded."""
        files = self._files(video_id)
        if self.layout == "valtest":
            return read_valtest_video(self.split_root, video_id)
        return read_train_video(files.jsons, video_id)

    def video_path(self, video_id: str) -> Path | None:
        """The mp4 (train) or the JPEG folder (val/test) of a video, or None when it is absent."""
        return self._files(video_id).frames

    def frame_count(self, video_id: str) -> int:
        """Exact number of video frames (mp4 packets or JPEG files), without decoding."""
        return self._frames_and_size(video_id)[0]

    def frame(self, video_id: str, index: int) -> np.ndarray:
        """One video frame by 24 fps index, frame-exact (random access, no streaming from the start)."""
        path = self._require_frames(video_id)
        if self.layout == "valtest":
            return _read_jpeg(path / f"{index:05d}.jpg")
        with VideoReader(path) as reader:
            return reader.frame(index)

    def frames(
        self, video_id: str, step: int = 1, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame index, RGB uint8 frame)`` for frames start, start + step... before ``stop``, streamed."""
        path = self._require_frames(video_id)
        if self.layout == "valtest":
            yield from _read_jpegs(path, step, start, stop)
            return
        with VideoReader(path) as reader:
            yield from reader.frames(step, start, stop)

    def check_frame_counts(
        self,
        video_id: str,
        annotations: VideoAnnotations | None = None,
        *,
        reader: VideoReader | None = None,
    ) -> int:
        """Check that the annotations fit the video; return how many annotated frames can be paired with frames.

        Checked: frame size, decoded frame count vs ``video_frame_count``, each masklet's length vs
        ceil(frames / 4). Without video frames only the masklet lengths are checked, against the metadata.
        A size mismatch is always an error; a count mismatch is a warning in lenient mode.
        ``reader``, the video's mp4 already open (``savkit serve`` keeps one), measures it instead of a reader of
        its own: the packets it listed and the frame it decoded are not read a second time.
        """
        annotations = annotations or self.annotations(video_id)
        where = self._files(video_id).frames
        problems = []
        if where is None:
            frames, where = annotations.frame_count, self._annotation_source(video_id)
        else:
            frames, height, width = self._frames_and_size(video_id, reader)
            if (height, width) != (annotations.height, annotations.width):
                raise SavkitError(
                    f"{where}: frames are {width}x{height} but the masks are {annotations.width}x"
                    f"{annotations.height} (W x H); the video does not belong to these annotations"
                )
            if annotations.frame_count != frames:
                problems.append(
                    f"the video has {frames} frames but video_frame_count is {annotations.frame_count}"
                )
        expected = annotated_frame_count(frames)
        wrong = [m for m in annotations.masklets if len(m) != expected]
        if wrong:
            more = f" (and {len(wrong) - 1} more masklets)" if len(wrong) > 1 else ""
            problems.append(
                f"{wrong[0].type} masklet {wrong[0].id} has {len(wrong[0])} annotated frames "
                f"but ceil({frames} / {FRAMES_PER_ANNOTATION}) = {expected}{more}"
            )
        if problems:
            self._report(f"{where}: {'; '.join(problems)}; run `savkit validate` on it")
        return min([expected] + [len(m) for m in annotations.masklets])

    def annotated_frames(
        self,
        video_id: str,
        *,
        type: str | None = None,
        ids: list[int] | None = None,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[tuple[int, np.ndarray, Masks]]:
        """Yield ``(k, frame 4k as RGB, {(type, id): bool mask})`` for annotated frames start..stop-1, streamed.

        ``type`` ("manual"/"auto") and ``ids`` select masklets. :meth:`check_frame_counts` runs first.
        """
        check_masklet_type(type)
        annotations = self.annotations(video_id)
        where = self._require_frames(video_id)
        num_annotated = self.check_frame_counts(video_id, annotations)
        stop = num_annotated if stop is None else min(stop, num_annotated)
        expected = max(stop - start, 0)
        delivered = 0
        step = FRAMES_PER_ANNOTATION
        for index, rgb in self.frames(video_id, step=step, start=start * step, stop=stop * step):
            k = index // step
            yield k, rgb, annotations.masks(k, type=type, ids=ids)
            delivered += 1
        if delivered < expected:
            self._report(
                f"{where}: decoded only {delivered} of the {expected} annotated frames {start}..{stop - 1}; "
                "the video is damaged, re-download it"
            )

    def _files(self, video_id: str) -> _VideoFiles:
        files = self._videos.get(video_id)
        if files is None:
            raise SavkitError(self._unknown_id_message(video_id))
        return files

    def _require_frames(self, video_id: str) -> Path:
        path = self._files(video_id).frames
        if path is None:
            expected = (
                f"{self.split_root / JPEG_DIR / video_id}/*.jpg"
                if self.layout == "valtest"
                else f"{video_id}.mp4 under {self.root}"
            )
            raise SavkitError(
                f"no video frames for {video_id!r}: expected {expected}; download the videos too"
            )
        return path

    def _annotation_source(self, video_id: str) -> Path:
        """Where a video's annotations are, to name in a message: its mask folder or its JSONs' folder / id."""
        if self.layout == "valtest":
            return self.split_root / ANNOTATIONS_DIR / video_id
        return self._files(video_id).jsons[0].parent / video_id

    def _frames_and_size(self, video_id: str, reader: VideoReader | None = None) -> tuple[int, int, int]:
        """(exact frame count, height, width) of the video, without decoding more than one frame.

        Measured once per video and kept with the index: counting demuxes the whole mp4, and a render or a
        clip stream asks for it more than once.
        """
        files = self._files(video_id)
        if files.frames_and_size is None:
            path = self._require_frames(video_id)
            if reader is not None and self.layout == "train":
                if reader.path != path:
                    raise ValueError(f"the reader of {reader.path} cannot measure {video_id} ({path})")
                files.frames_and_size = _measure_video(reader)
            else:
                files.frames_and_size = _measure_frames(path, self.layout)
        return files.frames_and_size

    def _report(self, message: str) -> None:
        """A mismatch is an error, or a warning in lenient mode (to get through a damaged file)."""
        if not self.lenient:
            raise SavkitError(f"{message}, or pass --lenient (lenient=True) to get through")
        warnings.warn(message, FrameCountWarning, stacklevel=3)

    def _unknown_id_message(self, video_id: str) -> str:
        close = difflib.get_close_matches(video_id, self._videos, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(list(self._videos)[:3]) + (", ..." if len(self) > 3 else "")
        source = (
            f"folder names in {ANNOTATIONS_DIR}"
            if self.layout == "valtest"
            else "{id}_manual.json file names"
        )
        return (
            f"video {video_id!r} is not in {self.root} ({len(self)} videos: {listing}){hint}; "
            f"ids are the {source}, listed by savkit.dataset.Dataset(PATH).video_ids"
        )


def _index_train(root: Path) -> dict[str, _VideoFiles]:
    """Video id -> files, from one recursive walk; the first file in sorted path order wins on duplicates."""
    videos: dict[str, _VideoFiles] = {}
    mp4s: dict[str, Path] = {}
    paths, ignored = split_ignored(sorted(root.rglob("*")), root)
    _warn_ignored(ignored, root)
    for path in paths:
        if path.suffix == ".mp4":
            mp4s.setdefault(path.stem, path)
        if parsed := parse_train_json_name(path.name):
            videos.setdefault(parsed[0], _VideoFiles()).jsons.append(path)
    for video_id, files in videos.items():
        files.frames = mp4s.get(video_id)
    return dict(sorted(videos.items()))


def _warn_ignored(count: int, root: Path) -> None:
    """Say how many hidden or system entries the index of a Dataset skipped (stack: here, index, __init__)."""
    if count:
        warnings.warn(ignored_message(count, f"under {root}"), IgnoredEntriesWarning, stacklevel=4)


def _index_valtest(split_root: Path) -> dict[str, _VideoFiles]:
    _warn_ignored(visible_entries(split_root / ANNOTATIONS_DIR)[1], split_root / ANNOTATIONS_DIR)
    jpeg_root = split_root / JPEG_DIR
    return {
        folder.name: _VideoFiles(
            frames=jpeg_root / folder.name if (jpeg_root / folder.name).is_dir() else None
        )
        for folder in subfolders(split_root / ANNOTATIONS_DIR)
    }


def _measure_frames(path: Path, layout: str) -> tuple[int, int, int]:
    """(frame count, height, width) of an mp4 (packets demuxed) or a JPEG folder (files counted)."""
    if layout == "valtest":
        jpegs = jpeg_frames(path)
        if not jpegs:
            raise SavkitError(f"{path}: no JPEG frames (00000.jpg...); download the frames too")
        return len(jpegs), *jpeg_size(jpegs[0])
    with VideoReader(path) as reader:
        return _measure_video(reader)


def _measure_video(reader: VideoReader) -> tuple[int, int, int]:
    """(frame count, height, width) of an open mp4: packets demuxed, the displayed size of a decoded frame."""
    return reader.count_frames(), reader.height, reader.width


def _read_jpegs(folder: Path, step: int, start: int, stop: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """Val/test frames named by their 24 fps index (00000.jpg...), read one at a time."""
    if step < 1 or start < 0:
        raise SavkitError(f"frame step must be >= 1 and start >= 0, got step={step}, start={start}")
    for path in jpeg_frames(folder):
        index = int(path.stem)
        if index >= start and (stop is None or index < stop) and (index - start) % step == 0:
            yield index, _read_jpeg(path)


def _read_jpeg(path: Path) -> np.ndarray:
    try:
        with open_regular(path) as file, Image.open(file) as image:
            return np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise SavkitError(f"{path}: not a readable JPEG ({exc}); re-download the frames") from None
