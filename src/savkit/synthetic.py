"""Synthetic SA-V-like annotation files for tests and benchmarks (no real dataset needed).

Train JSONs mimic the release: SA-V resolutions (848x480 up to 1920x1080), about 120 annotated frames, about
3 manual and 10 auto masklets per video (about 4 % of videos have no auto file), RLE strings of realistic
length. A few blob masks per resolution are encoded once and reused across masklets and frames, so writing
thousands of files is fast. The stored metadata (sizes, visibility...) is recomputed from the RLEs, so it is
consistent with the masks. Val/test trees follow the ``Annotations_6fps`` / ``JPEGImages_24fps`` PNG layout.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from savkit.annotations import FRAMES_PER_ANNOTATION, annotated_frame_count, rle
from savkit.annotations.metadata import MaskletMetadata, recompute_metadata
from savkit.annotations.valtest import ANNOTATIONS_DIR, JPEG_DIR
from savkit.io.png import write_png

RESOLUTIONS = ((848, 480), (480, 848), (720, 1280), (1280, 720), (1080, 1920), (1920, 1080))
ENVIRONMENTS = ("Indoor", "Outdoor")
BLOBS_PER_RESOLUTION = 12
AUTO_FILE_FRACTION = 48_436 / 50_583
METADATA_FIELDS = [item.name for item in fields(MaskletMetadata)]


def sav_json(
    video_id: str,
    masklet_type: str,
    num_masklets: int,
    *,
    height: int,
    width: int,
    frame_count: int,
    environment: str,
    seed: int,
) -> dict:
    """One SA-V train JSON dict (one masklet type) with ``num_masklets`` masklets on every 4th of ``frame_count``."""
    rng = np.random.default_rng(seed)
    num_frames = annotated_frame_count(frame_count)
    blobs, empty = _blob_rles(height, width), _empty_rle(height, width)
    tracks = [_masklet_track(blobs, empty, num_frames, rng) for _ in range(num_masklets)]
    metadata = [recompute_metadata(track, masklet_type, height * width) for track in tracks]
    return {
        "video_id": video_id,
        "video_duration": frame_count / 24,
        "video_frame_count": float(frame_count),
        "video_height": float(height),
        "video_width": float(width),
        "video_resolution": float(height * width),
        "video_environment": environment,
        "video_split": "train",
        "masklet": [[track[k] for track in tracks] for k in range(num_frames)],
        "masklet_id": list(range(num_masklets)),
        **{f"masklet_{name}": [getattr(m, name) for m in metadata] for name in METADATA_FIELDS},
        "masklet_edited_frame_count": [
            int(rng.integers(0, num_frames)) if masklet_type == "manual" else 0 for _ in tracks
        ],
        "masklet_type": [masklet_type] * num_masklets,
        "masklet_stability_score": (
            rng.uniform(0.9, 1.0, (num_frames, num_masklets)).round(6).tolist()
            if masklet_type == "auto"
            else [None] * num_masklets
        ),
        "masklet_num": num_masklets,
    }


def write_train_videos(root: str | os.PathLike, count: int, seed: int = 0, first_id: int = 1) -> list[Path]:
    """Write ``count`` videos' ``{id}_manual.json`` (+ ``{id}_auto.json`` for ~96 %) under ``root``; return the paths."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for number in range(first_id, first_id + count):
        video_id = f"sav_{number:06d}"
        height, width = RESOLUTIONS[int(rng.integers(len(RESOLUTIONS)))]
        video = {
            "height": height,
            "width": width,
            "frame_count": int(rng.integers(360, 600)),
            "environment": ENVIRONMENTS[int(rng.integers(len(ENVIRONMENTS)))],
        }
        counts = {"manual": int(rng.integers(1, 6))}
        if rng.random() < AUTO_FILE_FRACTION:
            counts["auto"] = int(rng.integers(4, 17))
        for masklet_type, num_masklets in counts.items():
            data = sav_json(video_id, masklet_type, num_masklets, **video, seed=int(rng.integers(2**31)))
            path = root / f"{video_id}_{masklet_type}.json"
            path.write_text(json.dumps(data))
            paths.append(path)
    return paths


def write_valtest_videos(
    split_root: str | os.PathLike,
    video_ids: list[str],
    num_objects: int = 2,
    num_frames: int = 5,
    height: int = 48,
    width: int = 64,
    seed: int = 0,
) -> None:
    """Write a small val/test tree: ``JPEGImages_24fps/{video}/*.jpg`` and ``Annotations_6fps/{video}/{obj}/*.png``.

    Object masks are random rectangles (some frames empty); the 24 fps JPEG folder has ``4 * num_frames - 3`` frames.
    """
    split_root = Path(split_root)
    rng = np.random.default_rng(seed)
    black = Image.new("RGB", (width, height))
    for video_id in video_ids:
        frames_dir = split_root / JPEG_DIR / video_id
        frames_dir.mkdir(parents=True, exist_ok=True)
        for index in range(FRAMES_PER_ANNOTATION * (num_frames - 1) + 1):
            black.save(frames_dir / f"{index:05d}.jpg")
        for obj in range(num_objects):
            for k in range(num_frames):
                mask = np.zeros((height, width), np.uint8)
                if rng.random() < 0.8:
                    top, left = rng.integers(0, height // 2), rng.integers(0, width // 2)
                    mask[
                        top : top + rng.integers(1, height // 2), left : left + rng.integers(1, width // 2)
                    ] = 255
                frame = FRAMES_PER_ANNOTATION * k
                write_png(split_root / ANNOTATIONS_DIR / video_id / f"{obj:03d}" / f"{frame:05d}.png", mask)


def _masklet_track(blobs: list[dict], empty: dict, num_frames: int, rng: np.random.Generator) -> list[dict]:
    """Per-frame RLEs of one masklet: one blob, hidden during 0 to 3 occlusions (runs of empty frames)."""
    blob = blobs[int(rng.integers(len(blobs)))]
    visible = np.ones(num_frames, bool)
    for _ in range(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1])):
        start = int(rng.integers(num_frames))
        visible[start : start + int(rng.integers(1, 20))] = False
    return [blob if shown else empty for shown in visible]


@lru_cache(maxsize=len(RESOLUTIONS))
def _blob_rles(height: int, width: int) -> list[dict]:
    """A few elliptic blobs from small to large, encoded once per resolution."""
    rng = np.random.default_rng(height * 10_000 + width)
    rows, cols = np.ogrid[:height, :width]
    blobs = []
    for scale in np.geomspace(0.01, 0.4, BLOBS_PER_RESOLUTION):
        ry, rx = scale * height * rng.uniform(0.5, 1.0), scale * width * rng.uniform(0.5, 1.0)
        cy, cx = rng.uniform(ry, height - ry), rng.uniform(rx, width - rx)
        blobs.append(rle.encode(((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1))
    return blobs


@lru_cache(maxsize=len(RESOLUTIONS))
def _empty_rle(height: int, width: int) -> dict:
    return rle.encode(np.zeros((height, width), bool))
