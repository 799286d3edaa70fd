"""Generated SA-V annotations for the annotation and validate tests: random masks, a small train video
(mp4 + manual and auto JSONs written through the model) and a small val/test split folder."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from savkit.annotations import Masklet, VideoAnnotations, recompute_metadata, rle, write_sav_json
from savkit.io.png import write_png
from savkit.io.video import write_video

TRAIN_ID = "sav_000777"
TRAIN_FRAMES, TRAIN_HEIGHT, TRAIN_WIDTH = 9, 32, 48


def random_masks(count: int, height: int = 24, width: int = 17, seed: int = 0) -> np.ndarray:
    """Random masks (count, H, W) of varied density; every 7th one is empty."""
    rng = np.random.default_rng(seed)
    masks = rng.random((count, height, width)) < rng.random((count, 1, 1)) * 0.6
    masks[::7] = False
    return masks


def generated_masklet(
    masklet_id: int, masklet_type: str, num_frames: int, height: int, width: int
) -> Masklet:
    """A masklet of random masks whose stored metadata is recomputed from them."""
    rles = [rle.encode(m) for m in random_masks(num_frames, height, width, seed=masklet_id)]
    metadata = recompute_metadata(rles, masklet_type, height * width)
    scores = [0.9] * num_frames if masklet_type == "auto" else None
    edited = 1 if masklet_type == "manual" else 0
    return Masklet(
        masklet_id, masklet_type, rles, edited_frame_count=edited, stability_score=scores, **vars(metadata)
    )


def make_train_folder(folder: Path) -> Path:
    """``folder/sub/{TRAIN_ID}.mp4`` + manual (2 masklets) and auto (3 masklets) JSONs; returns the sub folder."""
    sub = folder / "sub"
    annotated = math.ceil(TRAIN_FRAMES / 4)
    masklets = [generated_masklet(i, "manual", annotated, TRAIN_HEIGHT, TRAIN_WIDTH) for i in range(2)]
    masklets += [generated_masklet(i, "auto", annotated, TRAIN_HEIGHT, TRAIN_WIDTH) for i in range(3)]
    video = VideoAnnotations(
        TRAIN_ID, "train", TRAIN_FRAMES / 24, TRAIN_FRAMES, TRAIN_HEIGHT, TRAIN_WIDTH, "Indoor", masklets
    )
    for masklet_type in ("manual", "auto"):
        write_sav_json(sub / f"{TRAIN_ID}_{masklet_type}.json", video, masklet_type)
    write_grey_video(sub / f"{TRAIN_ID}.mp4", TRAIN_FRAMES, TRAIN_HEIGHT, TRAIN_WIDTH)
    return sub


def write_grey_video(path: Path, frames: int, height: int, width: int) -> None:
    write_video(path, (np.full((height, width, 3), 100 + i, np.uint8) for i in range(frames)))


def make_valtest(
    root: Path, masks: dict[int, dict[int, np.ndarray]], num_jpegs: int, size: tuple[int, int]
) -> None:
    """A val/test split folder with one video ``v1``: object id -> frame -> mask, and grey JPEG frames."""
    (root / "Annotations_6fps" / "v1").mkdir(parents=True, exist_ok=True)
    for object_id, frames in masks.items():
        for frame, mask in frames.items():
            write_png(root / "Annotations_6fps" / "v1" / f"{object_id:03d}" / f"{frame:05d}.png", mask * 255)
    jpeg_dir = root / "JPEGImages_24fps" / "v1"
    jpeg_dir.mkdir(parents=True)
    for frame in range(num_jpegs):
        Image.new("RGB", (size[1], size[0]), (90, 90, 90)).save(jpeg_dir / f"{frame:05d}.jpg")


def write_train_json(path: Path, counts: str | None = None) -> None:
    """A 4-frame, 12 x 9 train video with two masklets; ``counts`` replaces masklet 1's RLE (annotated frame 0)."""
    masklets = [generated_masklet(i, "manual", 1, 12, 9) for i in range(2)]
    video = VideoAnnotations(path.name.split("_manual")[0], "train", 4 / 24, 4, 12, 9, None, masklets)
    write_sav_json(path, video, "manual")
    if counts is not None:
        data = json.loads(path.read_text())
        data["masklet"][0][1]["counts"] = counts
        path.write_text(json.dumps(data))


def deny_listing(monkeypatch, folder: Path) -> None:
    """Make listing ``folder`` (os.scandir, os.listdir) fail with permission denied, as for a folder the user may
    not read: the tests may run as root, whom permissions do not stop."""
    denied = os.fspath(folder.resolve())
    for name in ("scandir", "listdir"):
        real = getattr(os, name)

        def refusing(path=".", real=real):
            if isinstance(path, (str, os.PathLike)) and os.fspath(path) == denied:
                raise PermissionError(errno.EACCES, "Permission denied", denied)
            return real(path)

        monkeypatch.setattr(os, name, refusing)
