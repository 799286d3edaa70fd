"""Generated test videos whose pixels can be read back after lossy compression.

* ``index_frame(i)`` paints frame ``i`` as a barcode (one wide black/white stripe per bit), so a decoded frame
  tells its own index.
* ``write_sample_video`` paints the real sample's manual masks: annotated frame k (video frame 4k) shows masklet j
  in ``masklet_colour(j, k)``, which changes with k; every other frame is plain grey. Reading annotation k with
  any frame other than 4k (or frame 4k with annotation k +- 1) therefore gives the wrong colours.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from sample_data import sample_folder
from savkit.annotations import VideoAnnotations, write_sav_json
from savkit.io import video as video_io
from savkit.io.png import write_png
from savkit.io.video import write_video

VIDEO_ID = "sav_000001"
INDEX_BITS = 10
STRIPE_WIDTH = 8
COLOURS = np.array(
    [[230, 30, 30], [30, 200, 30], [40, 40, 230], [230, 230, 30], [220, 40, 220], [40, 220, 220]],
    dtype=np.uint8,
)
GREY = np.array([128, 128, 128], dtype=np.uint8)


def index_frame(index: int, height: int = 48) -> np.ndarray:
    """A frame showing ``index`` in binary: stripe b is white when bit b is set."""
    bits = (index >> np.arange(INDEX_BITS)) & 1
    row = np.repeat(bits * 255, STRIPE_WIDTH).astype(np.uint8)
    return np.broadcast_to(row[None, :, None], (height, row.size, 3)).copy()


def read_index(rgb: np.ndarray) -> int:
    """The index painted by :func:`index_frame`, read from the mean brightness of each stripe."""
    stripes = rgb.mean(axis=(0, 2)).reshape(INDEX_BITS, STRIPE_WIDTH).mean(axis=1)
    return int(((stripes > 128) << np.arange(INDEX_BITS)).sum())


def write_index_video(path: Path, count: int, keyframe_interval: int = 12) -> Path:
    """An mp4 of ``count`` barcode frames with several keyframes and B-frames (so seeking is really exercised)."""
    frames = (index_frame(i) for i in range(count))
    write_video(
        path, frames, fps=24, crf=10, preset="veryfast", options={"g": str(keyframe_interval), "bf": "2"}
    )
    return path


def masklet_colour(masklet_id: int, k: int) -> np.ndarray:
    """Colour of masklet ``masklet_id`` on annotated frame ``k``; consecutive k always differ."""
    return COLOURS[(masklet_id + k) % len(COLOURS)]


def painted_colours_match(rgb: np.ndarray, masks: dict[int, np.ndarray], k: int) -> bool:
    """Whether each masklet's own pixels show the colour it is painted with on annotated frame k."""
    return colours_match(rgb, masks, {masklet_id: masklet_colour(masklet_id, k) for masklet_id in masks})


def colours_match(rgb: np.ndarray, masks: dict, colours: dict, tolerance: float = 40) -> bool:
    """Whether each mask's own pixels (away from edges and other masks) show its colour in ``colours``.

    Masks with fewer than 50 such pixels on this frame are not judged; a frame with none judged fails.
    """
    union = np.sum([m for m in masks.values()], axis=0)
    judged = []
    for key, mask in masks.items():
        own = cv2.erode((mask & (union == 1)).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        if own.sum() >= 50:
            judged.append(np.abs(rgb[own].mean(axis=0) - colours[key]).max() < tolerance)
    return bool(judged) and all(judged)


def sample_masks(json_path: Path) -> tuple[list[int], list[list[dict]], int]:
    """(masklet ids, RLEs per annotated frame, video frame count) read straight from an SA-V JSON."""
    data = json.loads(Path(json_path).read_text())
    return data["masklet_id"], data["masklet"], int(data["video_frame_count"])


def sample_frames(json_path: Path) -> Iterator[np.ndarray]:
    """The frames of the painted sample video, one at a time."""
    masklet_ids, masklet, frame_count = sample_masks(json_path)
    height, width = masklet[0][0]["size"]
    for index in range(frame_count):
        frame = np.empty((height, width, 3), dtype=np.uint8)
        frame[:] = GREY
        if index % 4 == 0:
            k = index // 4
            frame[:] = 0
            for masklet_id, rle in zip(masklet_ids, masklet[k], strict=True):
                frame[mask_utils.decode(rle).astype(bool)] = masklet_colour(masklet_id, k)
        yield frame


def write_sample_video(path: Path, manual_json: Path) -> Path:
    """The 24 fps sample mp4 (483 frames, 480x848) painted from the manual masks of the real sample."""
    write_video(path, sample_frames(manual_json), fps=24, crf=20, preset="ultrafast")
    return path


def require_sample() -> Path:
    """The real sample folder, for module-scoped fixtures (which cannot use ``sample_dir``)."""
    return sample_folder()


def painted_sample_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """For a module-scoped fixture: the painted sample mp4, ."""
    manual = require_sample() / f"{VIDEO_ID}_manual.json"
    return write_sample_video(tmp_path_factory.mktemp("painted") / f"{VIDEO_ID}.mp4", manual)


def train_folder(root: Path, sample_dir: Path, video: Path | None, edit=None) -> Path:
    """A train folder as the tar files unpack (files one level down); ``edit(data)`` changes both JSONs."""
    folder = root / "sav_000"
    folder.mkdir(parents=True)
    for kind in ("manual", "auto"):
        name = f"{VIDEO_ID}_{kind}.json"
        if edit is None:
            os.symlink(sample_dir / name, folder / name)
        else:
            data = json.loads((sample_dir / name).read_text())
            edit(data)
            (folder / name).write_text(json.dumps(data))
    if video is not None:
        os.symlink(video, folder / f"{VIDEO_ID}.mp4")
    return root


def first_20_annotated_frames(data: dict) -> None:
    """Cut an SA-V JSON to its first 20 annotated frames (80 video frames)."""
    data["masklet"] = data["masklet"][:20]
    data["video_frame_count"] = 80.0
    if data["masklet_type"][0] == "auto":
        data["masklet_stability_score"] = data["masklet_stability_score"][:20]


def short_sample_folder(root: Path) -> Path:
    """A train folder with the sample cut to 80 video frames (20 annotated) and its painted mp4: quick to stream."""
    train_folder(root, require_sample(), None, edit=first_20_annotated_frames)
    write_sample_video(root / "sav_000" / f"{VIDEO_ID}.mp4", root / "sav_000" / f"{VIDEO_ID}_manual.json")
    return root


def valtest_folder(root: Path, frames: int = 11) -> tuple[Path, dict[int, np.ndarray]]:
    """A val split with one video: barcode JPEGs and object 001 masked on frames 0, 4, 8 (a square that moves)."""
    split = root / "sav_val"
    (split / "JPEGImages_24fps" / "vid").mkdir(parents=True)
    for i in range(frames):
        Image.fromarray(index_frame(i)).save(split / "JPEGImages_24fps" / "vid" / f"{i:05d}.jpg", quality=95)
    masks = {}
    for k in range(math.ceil(frames / 4)):
        masks[k] = np.zeros(index_frame(0).shape[:2], dtype=np.uint8)
        masks[k][5:20, 10 * k : 10 * k + 15] = 1
        write_png(split / "Annotations_6fps" / "vid" / "001" / f"{4 * k:05d}.png", masks[k])
    return split, masks


def barcode_video(
    folder, video_id: str, frames: int, *, json_frames: int | None = None, rotate: bool = False
):
    """A barcode mp4 (rotated by a quarter turn in its display matrix if ``rotate``) and an empty manual JSON of
    its displayed size, saying ``json_frames`` frames."""
    coded = index_frame(0)
    with av.open(str(folder / f"{video_id}.mp4"), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = coded.shape[1], coded.shape[0], "yuv420p"
        if rotate:
            stream.set_display_rotation(90)
        for index in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(index_frame(index), format="rgb24")))
        container.mux(stream.encode())
    height, width = coded.shape[:2][::-1] if rotate else coded.shape[:2]
    count = frames if json_frames is None else json_frames
    annotations = VideoAnnotations(video_id, "train", count / 24, count, height, width, "Indoor", [])
    write_sav_json(folder / f"{video_id}_manual.json", annotations, "manual")


def count_video_work(monkeypatch) -> dict[str, int]:
    """Count the mp4s opened and the frames decoded through savkit.io.video, however they are asked for."""
    counts = {"opened": 0, "decoded": 0}
    opened, decode, decode_skipping = video_io._open_video_stream, video_io._decode, video_io._decode_skipping

    def counted_open(path):
        counts["opened"] += 1
        return opened(path)

    def counted(generator):
        for item in generator:
            counts["decoded"] += 1
            yield item

    monkeypatch.setattr(video_io, "_open_video_stream", counted_open)
    monkeypatch.setattr(video_io, "_decode", lambda *args: counted(decode(*args)))
    monkeypatch.setattr(video_io, "_decode_skipping", lambda *args: counted(decode_skipping(*args)))
    return counts
