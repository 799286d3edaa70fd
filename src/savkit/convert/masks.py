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
from savkit.annotations.metadata import IMPORTED_STABILITY_SCORE
from savkit.annotations.sav_json import parse_train_json_name
from savkit.annotations.valtest import (
    ANNOTATIONS_DIR,
    JPEG_DIR,
    frame_index,
    mask_pngs,
    object_folders,
    subfolders,
)
from savkit.convert import video_metadata
from savkit.convert.sources import find_files, run_video_tasks
from savkit.convert.video_metadata import Guess, VideoMetadata
from savkit.errors import SavkitError
from savkit.io.png import read_png, write_png
from savkit.parallel import RunReport, VideoStats, write_file_output, write_video_output
from savkit.progress import ProgressCallback

LAYOUTS = ("sav", "davis")
UNKNOWN_SPLIT = "unknown"
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
    type: str
    layout: str
    overwrite: bool

    @property
    def sources(self) -> tuple[Path, ...]:
        return self.jsons

    @property
    def settings(self) -> dict:
        """What the PNGs depend on, recorded with them: a re-run with other settings is refused."""
        return export_settings(self.type, self.layout)


@dataclass(frozen=True)
class ImportTask:
    """One video folder to import; ``mp4`` / ``jpeg_dir``: where its metadata may be read (see ``import_masks``);
    ``videos``: the folder that must provide one of them, if the user gave one."""

    video_dir: Path
    out_dir: Path
    type: str
    split: str | None
    overwrite: bool
    mp4: Path | None = None
    jpeg_dir: Path | None = None
    videos: Path | None = None

    @property
    def video_id(self) -> str:
        return self.video_dir.name

    @property
    def sources(self) -> tuple[Path, ...]:
        return (self.video_dir,)

    @property
    def settings(self) -> dict:
        """What the JSONs depend on besides their type (which names them): a re-run with others is refused."""
        return import_settings(self.split)


@dataclass(frozen=True)
class ImportStats(VideoStats):
    """Per-video import result: where the video metadata came from (mp4, JPEG frames, masks) and which fields
    were written without a source (empty for a video skipped as already imported)."""

    metadata_source: str = ""
    guessed: tuple[Guess, ...] = ()


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
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Write the masks of every ``{video_id}_{type}.json`` under ``src`` as PNGs in ``layout``.

    ``type``: manual, auto or both (videos lacking the requested JSONs are left out). Results are ``MaskStats``
    keyed by video id.
    """
    _check_choice("masklet type", type, TYPE_CHOICES)
    _check_choice("layout", layout, LAYOUTS)
    wanted = MASKLET_TYPES if type == "both" else (type,)
    jsons = _annotation_jsons(src, wanted)
    tasks = [
        ExportTask(video_id, paths, Path(out), type, layout, overwrite) for video_id, paths in jsons.items()
    ]
    return run_video_tasks(
        export_video_masks,
        tasks,
        src=src,
        out=out,
        settings=export_settings(type, layout),
        overwrite=overwrite,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )


def export_settings(type: str, layout: str) -> dict:
    return {"command": "export-masks", "type": type, "layout": layout}


def export_video_masks(task: ExportTask) -> MaskStats:
    """Export one video (skipped if complete): the per-video task of ``export_masks``."""
    overlap = 0

    def write(folder: Path) -> int:
        """Write the PNGs; return how many there must be (one per annotated frame, per object in sav)."""
        nonlocal overlap
        annotations = read_train_video(task.jsons, task.video_id)
        if task.layout == "sav":
            _write_sav_layout(annotations, folder)
            return len(annotations.masklets) * annotations.num_annotated_frames
        overlap = _write_davis_layout(annotations, folder)
        return annotations.num_annotated_frames

    stats = write_video_output(task.out_dir, task.video_id, write, task.overwrite, task.settings)
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
        parsed = parse_train_json_name(path.name)
        if parsed is not None and parsed[1] in types:  # unsafe ids (empty, "..") are refused by the runner
            by_video[parsed[0]].append(path)
    if not by_video:
        raise SavkitError(f"no {' or '.join(f'*_{t}.json' for t in types)} file under {src}")
    return {video_id: tuple(sorted(paths)) for video_id, paths in sorted(by_video.items())}


# ------------------------------------------------------------------------------------------------------ import


def import_masks(
    src: str | os.PathLike,
    out: str | os.PathLike,
    type: str = "manual",
    split: str | None = None,
    *,
    videos: str | os.PathLike | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: Any = None,
    progress: ProgressCallback | None = None,
) -> RunReport:
    """Turn each video folder of a PNG tree into ``OUT/{video_id}_{type}.json``, a JSON ``savkit validate`` accepts.

    The layout (sav or davis) is detected per video; a val/test split root (``sav_val``) stands for its
    ``Annotations_6fps``. Masklet ids: object folder names (sav) or DAVIS label - 1; masklet metadata is
    recomputed from the masks. Video metadata (:mod:`savkit.convert.video_metadata`) comes from ``videos`` (a
    folder of ``{video_id}.mp4``, searched recursively, or of ``{video_id}/`` JPEG frame folders), else from
    ``SRC/{video_id}.mp4``, else from the val/test ``JPEGImages_24fps`` beside ``Annotations_6fps``, else it is
    guessed from the masks. ``split`` defaults to the val/test split's name (``sav_val`` gives ``val``), else
    "unknown". Results are :class:`ImportStats` keyed by video id: where the metadata came from and which fields
    were guessed (:func:`guessed_fields` sums them up over a run).
    """
    _check_choice("masklet type", type, MASKLET_TYPES)
    root = _mask_root(Path(src))
    video_dirs = subfolders(root)
    if not video_dirs:
        raise SavkitError(
            f"{root}: no video folder inside; give the folder holding one mask folder per video"
        )
    videos_dir = Path(videos) if videos is not None else None
    mp4s = _mp4s_under(videos_dir) if videos_dir is not None else {}
    split = split or _valtest_split(root)
    tasks = [
        ImportTask(
            video_dir, Path(out), type, split, overwrite, *_metadata_places(video_dir, videos_dir, mp4s)
        )
        for video_dir in video_dirs
    ]
    return run_video_tasks(
        import_video_masks,
        tasks,
        src=src,
        out=out,
        settings=import_settings(split),
        overwrite=overwrite,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
    )


def import_settings(split: str | None) -> dict:
    return {"command": "import-masks", "split": split}


def import_video_masks(task: ImportTask) -> ImportStats:
    """Import one video folder (skipped if its JSON is complete): the per-video task of ``import_masks``."""
    metadata = None

    def write(path: Path) -> None:
        nonlocal metadata
        tree = _read_mask_tree(task.video_dir)
        metadata = _video_metadata(task, tree)
        write_sav_json(path, _annotations_from_masks(task, tree, metadata), task.type)

    name = f"{task.video_id}_{task.type}.json"
    stats = write_file_output(task.out_dir, name, write, task.overwrite, task.settings)
    if metadata is None:  # skipped: already imported
        return ImportStats(**vars(stats))
    return ImportStats(
        **vars(stats),
        metadata_source=metadata.source,
        guessed=metadata.guessed + _written_without_source(task),
    )


def guessed_fields(report: RunReport) -> list[tuple[Guess, list[str]]]:
    """Each guess made in an import run, with the ids of the videos it was made for (in video order)."""
    videos: dict[Guess, list[str]] = defaultdict(list)
    for video_id, stats in sorted(report.results.items()):
        for guess in stats.guessed if isinstance(stats, ImportStats) else ():
            videos[guess].append(video_id)
    return list(videos.items())


def _mask_root(root: Path) -> Path:
    """The folder of video mask folders: ``root``, or the ``Annotations_6fps`` of a val/test split root."""
    if not root.is_dir():
        raise SavkitError(f"{root}: not a folder; give the folder holding one mask folder per video")
    return root / ANNOTATIONS_DIR if (root / ANNOTATIONS_DIR).is_dir() else root


def _valtest_split(root: Path) -> str | None:
    """``val`` for ``sav_val/Annotations_6fps`` (as the val/test reader names splits), else None (unknown)."""
    split_root = root.parent.name
    if root.name == ANNOTATIONS_DIR and split_root.startswith("sav_") and split_root != "sav_":
        return split_root.removeprefix("sav_")
    return None


def _mp4s_under(videos: Path) -> dict[str, Path]:
    """``{video_id: mp4}`` under the ``videos`` folder, or nothing when it holds JPEG frame folders only."""
    if not videos.is_dir():
        raise SavkitError(
            f"{videos}: not a folder; give the folder holding the videos ({{video_id}}.mp4, searched "
            "recursively) or their JPEG frame folders ({video_id}/00000.jpg, ...)"
        )
    if next(videos.rglob("*.mp4"), None) is None:
        return {}
    return {path.stem: path for path in find_files(videos, ".mp4", "videos ({video_id}.mp4)")}


def _metadata_places(
    video_dir: Path, videos: Path | None, mp4s: dict[str, Path]
) -> tuple[Path | None, Path | None, Path | None]:
    """(mp4, JPEG folder, the ``videos`` folder that must provide one of them) for one video."""
    video_id = video_dir.name
    if videos is not None:
        return mp4s.get(video_id), videos / video_id, videos
    beside = video_dir.parent / f"{video_id}.mp4"
    jpegs = (
        video_dir.parent.parent / JPEG_DIR / video_id if video_dir.parent.name == ANNOTATIONS_DIR else None
    )
    return (beside if beside.is_file() else None), jpegs, None


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
    pngs, folders = mask_pngs(video_dir), object_folders(video_dir)
    if bool(pngs) == bool(folders):
        raise SavkitError(
            f"{video_dir}: expected either object folders of PNGs (sav layout) or label PNGs (davis layout)"
        )
    tree = _MaskTree()
    for folder in folders:
        for png in mask_pngs(folder):
            frame, pixels = tree.add_png(png)
            tree.rles[int(folder.name)][frame] = rle.encode(pixels)
    for png in pngs:
        frame, labels = tree.add_png(png)
        for label in np.unique(labels[labels > 0]):
            tree.rles[int(label) - 1][frame] = rle.encode(labels == label)
    return tree


def _mask_size(task: ImportTask, tree: _MaskTree) -> tuple[int, int]:
    sizes = set(tree.frame_sizes.values())
    if len(sizes) != 1:
        raise SavkitError(
            f"{task.video_dir}: mask PNGs have sizes {sorted(sizes)}; all must have the video size"
        )
    return sizes.pop()


def _video_metadata(task: ImportTask, tree: _MaskTree) -> VideoMetadata:
    """From the mp4, else the JPEG frames, else guessed from the masks; the masks must fit the video found."""
    size = _mask_size(task, tree)
    if task.mp4 is not None:
        metadata = video_metadata.from_mp4(task.mp4)
    else:
        metadata = video_metadata.from_jpegs(task.jpeg_dir) if task.jpeg_dir is not None else None
    if metadata is None and task.videos is not None:
        raise SavkitError(
            f"no {task.video_id}.mp4 and no {task.video_id}/ folder of JPEG frames under {task.videos}; "
            "add the video there or import without a videos folder"
        )
    if metadata is None:
        return video_metadata.from_masks(max(tree.frame_sizes), size)
    source = task.mp4 or task.jpeg_dir
    if (metadata.height, metadata.width) != size:
        raise SavkitError(
            f"{task.video_dir}: masks are {size[1]}x{size[0]} but {source} is {metadata.width}x{metadata.height} "
            "(width x height); give the video these masks belong to"
        )
    if max(tree.frame_sizes) >= metadata.frame_count:
        raise SavkitError(
            f"{task.video_dir}: masks go up to frame {max(tree.frame_sizes)} but {source} has "
            f"{metadata.frame_count} frames; give the video these masks belong to"
        )
    return metadata


def _written_without_source(task: ImportTask) -> tuple[Guess, ...]:
    """Fields no mask tree or video can tell, as written."""
    guesses = [Guess("video_environment", "null (masks and videos do not say indoor or outdoor)")]
    if task.split is None:
        guesses.append(Guess("video_split", f'"{UNKNOWN_SPLIT}" (no split given)'))
    if task.type == "auto":
        guesses.append(Guess("masklet_stability_score", f"{IMPORTED_STABILITY_SCORE} (PNGs carry no score)"))
    return tuple(guesses)


def _annotations_from_masks(task: ImportTask, tree: _MaskTree, metadata: VideoMetadata) -> VideoAnnotations:
    """The model of one imported video: every object gets an RLE on every annotated frame (empty if absent)."""
    size = (metadata.height, metadata.width)
    masklets = masklets_from_frame_rles(
        tree.rles, annotated_frame_count(metadata.frame_count), size, task.type
    )
    return VideoAnnotations(
        video_id=task.video_id,
        split=task.split or UNKNOWN_SPLIT,
        duration=metadata.duration,
        frame_count=metadata.frame_count,
        height=metadata.height,
        width=metadata.width,
        environment=None,
        masklets=masklets,
    )


# ------------------------------------------------------------------------------------------------------ shared


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SavkitError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")
