"""SA-V annotation JSONs <-> PNG mask trees, one task per video, resumable.

Two PNG layouts:

- ``sav`` (the SA-V val/test ``Annotations_6fps`` layout): ``OUT/{video_id}/{obj:03d}/{frame:05d}.png``, one
  0/255 grey PNG per object and annotated frame, ``frame`` being the 24 fps index 4k. Overlaps are kept.
- ``davis``: ``OUT/{video_id}/{frame:05d}.png``, one PNG per annotated frame holding object labels with the
  standard DAVIS (PASCAL VOC) palette. A pixel holds one label, so overlaps must be resolved: **the object with
  the lowest number wins** (with ``--type both``, manual masklets therefore stay on top of auto ones). The
  number of pixels covered by two or more objects is reported (``MaskStats.overlap_pixels``).

Object numbers: a masklet's id, for one type. With both types, manual ids are kept and auto ids follow after
the highest manual id (auto id + highest manual id + 1), so numbers stay unique. DAVIS label = number + 1.
Every PNG is written for every annotated frame (empty masks included), so export -> import -> export gives
byte-identical PNGs.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from savkit.annotations import (
    FRAMES_PER_ANNOTATION,
    MASKLET_TYPES,
    Masklet,
    VideoAnnotations,
    annotated_frame_count,
    masklets_from_frame_rles,
    read_train_video,
    rle,
    write_sav_json,
)
from savkit.annotations.sav_json import parse_train_json_name
from savkit.annotations.valtest import VALTEST_FPS, frame_index, object_folders, subfolders
from savkit.convert.sources import find_files, run_video_tasks
from savkit.errors import SavkitError
from savkit.io.png import read_png, write_png
from savkit.parallel import RunReport, VideoStats, write_video_output

LAYOUTS = ("sav", "davis")
TYPE_CHOICES = ("manual", "auto", "both")
MAX_DAVIS_LABEL = 255


@dataclass(frozen=True)
class MaskStats(VideoStats):
    """Per-video export result; ``overlap_pixels``: pixels (summed over frames) claimed by 2+ objects.

    Counted for the DAVIS layout only, and 0 for a video skipped as already complete.
    """

    overlap_pixels: int = 0


@dataclass(frozen=True)
class ExportTask:
    video_id: str
    jsons: tuple[Path, ...]
    out_dir: Path
    layout: str
    overwrite: bool


@dataclass(frozen=True)
class ImportTask:
    video_dir: Path
    out_dir: Path
    type: str
    split: str
    overwrite: bool

    @property
    def video_id(self) -> str:
        return self.video_dir.name


def davis_palette() -> np.ndarray:
    """The DAVIS / PASCAL VOC colour map (256 x 3 uint8): label bits spread over the channels' high bits."""
    labels = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.uint8)
    for bit in range(8):
        for channel in range(3):
            palette[:, channel] |= (((labels >> (3 * bit + channel)) & 1) << (7 - bit)).astype(np.uint8)
    return palette


# ------------------------------------------------------------------------------------------------------ export


def export_masks(
    src: str | os.PathLike,
    out: str | os.PathLike,
    type: str = "manual",
    layout: str = "sav",
    *,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
) -> RunReport:
    """Write the masks of every ``{video_id}_{type}.json`` under ``src`` as PNGs in ``layout``.

    ``type``: manual, auto or both (videos lacking the requested JSONs are left out). Results are ``MaskStats``
    keyed by video id.
    """
    _check_choice("masklet type", type, TYPE_CHOICES)
    _check_choice("layout", layout, LAYOUTS)
    wanted = MASKLET_TYPES if type == "both" else (type,)
    jsons = _annotation_jsons(src, wanted)
    tasks = [ExportTask(video_id, paths, Path(out), layout, overwrite) for video_id, paths in jsons.items()]
    return run_video_tasks(export_video_masks, tasks, "export-masks", workers, scheduler, progress)


def export_video_masks(task: ExportTask) -> MaskStats:
    """Export one video (skipped if complete): the per-video task of ``export_masks``."""
    overlap = 0

    def write(folder: Path) -> None:
        nonlocal overlap
        annotations = read_train_video(task.jsons, task.video_id)
        if task.layout == "sav":
            _write_sav_layout(annotations, folder)
        else:
            overlap = _write_davis_layout(annotations, folder)

    stats = write_video_output(task.out_dir, task.video_id, write, overwrite=task.overwrite)
    return MaskStats(**vars(stats), overlap_pixels=overlap)


def object_numbers(masklets: list[Masklet]) -> list[int]:
    """Unique object numbers: ids for one type; with both, auto ids shifted past the highest manual id."""
    manual_ids = [m.id for m in masklets if m.type == "manual"]
    offset = max(manual_ids) + 1 if manual_ids else 0
    return [m.id + offset if m.type == "auto" else m.id for m in masklets]


def _write_sav_layout(annotations: VideoAnnotations, folder: Path) -> None:
    """One 0/255 PNG per object and annotated frame.

    An absent object (empty RLE, read from its area without decoding) gives the same PNG bytes on every frame:
    the first one is encoded, the others are copies (objects are absent on many frames, e.g. before appearing).
    """
    empty_png = None
    for masklet, number in zip(annotations.masklets, object_numbers(annotations.masklets), strict=True):
        (folder / f"{number:03d}").mkdir()
        for k, area in enumerate(masklet.areas()):
            png = folder / f"{number:03d}" / f"{k * FRAMES_PER_ANNOTATION:05d}.png"
            if area == 0 and empty_png is not None:
                shutil.copyfile(empty_png, png)
                continue
            write_png(png, masklet.mask(k).view(np.uint8) * np.uint8(255))
            if area == 0:
                empty_png = png


def _write_davis_layout(annotations: VideoAnnotations, folder: Path) -> int:
    """One label PNG per annotated frame, lowest object number on top; return the overlapping pixel count."""
    labels = [number + 1 for number in object_numbers(annotations.masklets)]
    if labels and max(labels) > MAX_DAVIS_LABEL:
        raise SavkitError(
            f"{annotations.video_id}: object number {max(labels) - 1} does not fit a DAVIS PNG "
            f"(labels 1..{MAX_DAVIS_LABEL}); use --layout sav"
        )
    top_last = sorted(zip(labels, annotations.masklets, strict=True), key=lambda pair: -pair[0])
    palette = davis_palette()
    overlap = 0
    for k in range(annotations.num_annotated_frames):
        label_map = np.zeros((annotations.height, annotations.width), dtype=np.uint8)
        coverage = np.zeros(label_map.shape, dtype=np.uint16)
        for label, masklet in top_last:
            mask = masklet.mask(k)
            label_map[mask] = label
            coverage += mask
        overlap += int(np.count_nonzero(coverage > 1))
        write_png(folder / f"{k * FRAMES_PER_ANNOTATION:05d}.png", label_map, palette=palette)
    return overlap


def _annotation_jsons(src: str | os.PathLike, types: tuple[str, ...]) -> dict[str, tuple[Path, ...]]:
    """``{video_id}_{type}.json`` files under ``src`` grouped by video, for the wanted types only."""
    by_video: dict[str, list[Path]] = defaultdict(list)
    for path in find_files(
        src, ".json", "SA-V annotation JSONs ({video_id}_manual.json, {video_id}_auto.json)"
    ):
        video_id, masklet_type = parse_train_json_name(path.name) or ("", "")
        if video_id and masklet_type in types:  # an empty id would name OUT itself
            by_video[video_id].append(path)
    if not by_video:
        raise SavkitError(f"no {' or '.join(f'*_{t}.json' for t in types)} file under {src}")
    return {video_id: tuple(sorted(paths)) for video_id, paths in sorted(by_video.items())}


# ------------------------------------------------------------------------------------------------------ import


def import_masks(
    src: str | os.PathLike,
    out: str | os.PathLike,
    type: str = "manual",
    split: str = "unknown",
    *,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool = True,
) -> RunReport:
    """Turn each video folder of a PNG tree into ``OUT/{video_id}_{type}.json``.

    The layout (sav or davis) is detected per video.

    Masklet ids: object folder names (sav) or DAVIS label - 1; metadata is recomputed from the masks.
    """
    _check_choice("masklet type", type, MASKLET_TYPES)
    root = Path(src)
    if not root.is_dir():
        raise SavkitError(f"{root}: not a folder; give the folder holding one mask folder per video")
    video_dirs = subfolders(root)
    if not video_dirs:
        raise SavkitError(
            f"{root}: no video folder inside; give the folder holding one mask folder per video"
        )
    tasks = [ImportTask(video_dir, Path(out), type, split, overwrite) for video_dir in video_dirs]
    return run_video_tasks(import_video_masks, tasks, "import-masks", workers, scheduler, progress)


def import_video_masks(task: ImportTask) -> VideoStats:
    """Import one video folder (skipped if its JSON exists): the per-video task of ``import_masks``."""
    target = task.out_dir / f"{task.video_id}_{task.type}.json"
    if target.is_file() and not task.overwrite:
        return VideoStats(files=1, bytes=target.stat().st_size, skipped=True)
    write_sav_json(target, _annotations_from_masks(task, _read_mask_tree(task.video_dir)), task.type)
    return VideoStats(files=1, bytes=target.stat().st_size)


@dataclass
class _MaskTree:
    """A video's masks as read from PNGs: RLE per object id and frame, and the (height, width) of every frame."""

    rles: dict[int, dict[int, dict]] = field(default_factory=lambda: defaultdict(dict))
    frame_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add_png(self, png: Path) -> tuple[int, np.ndarray]:
        frame, pixels = frame_index(png), read_png(png)
        self.frame_sizes[frame] = pixels.shape
        return frame, pixels


def _read_mask_tree(video_dir: Path) -> _MaskTree:
    """Either layout: object folders of 0/255 PNGs (sav) or label PNGs (davis, object id = label - 1)."""
    has_pngs, folders = any(video_dir.glob("*.png")), object_folders(video_dir)
    if has_pngs == bool(folders):
        raise SavkitError(
            f"{video_dir}: expected either object folders of PNGs (sav layout) or label PNGs (davis layout)"
        )
    tree = _MaskTree()
    for folder in folders:
        for png in sorted(folder.glob("*.png")):
            frame, pixels = tree.add_png(png)
            tree.rles[int(folder.name)][frame] = rle.encode(pixels)
    for png in sorted(video_dir.glob("*.png")):
        frame, labels = tree.add_png(png)
        for label in np.unique(labels[labels > 0]):
            tree.rles[int(label) - 1][frame] = rle.encode(labels == label)
    return tree


def _annotations_from_masks(task: ImportTask, tree: _MaskTree) -> VideoAnnotations:
    """The model of one imported video: every object gets an RLE on every annotated frame (empty if absent)."""
    sizes = set(tree.frame_sizes.values())
    if len(sizes) != 1:
        raise SavkitError(
            f"{task.video_dir}: mask PNGs have sizes {sorted(sizes)}; all must have the video size"
        )
    height, width = sizes.pop()
    frame_count = max(tree.frame_sizes) + 1
    masklets = masklets_from_frame_rles(
        tree.rles, annotated_frame_count(frame_count), (height, width), task.type
    )
    return VideoAnnotations(
        video_id=task.video_id,
        split=task.split,
        duration=frame_count / VALTEST_FPS,
        frame_count=frame_count,
        height=height,
        width=width,
        environment=None,
        masklets=masklets,
    )


# ------------------------------------------------------------------------------------------------------ shared


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SavkitError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")
