"""Read the SA-V val/test layout into the annotation model.

``{split_root}/Annotations_6fps/{video}/{obj:03d}/{frame:05d}.png`` holds one binary PNG per object and
annotated frame (frame = 4k), ``{split_root}/JPEGImages_24fps/{video}/{frame:05d}.jpg`` every video frame.
Masks are encoded to RLEs as they are read, so the model is the same as for train JSONs.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from savkit.annotations import rle
from savkit.annotations.metadata import masklets_from_frame_rles
from savkit.annotations.model import FRAMES_PER_ANNOTATION, VideoAnnotations
from savkit.errors import SavkitError
from savkit.io.files import open_regular, unlistable
from savkit.io.names import is_ignored_name, visible_entries
from savkit.io.png import read_png

ANNOTATIONS_DIR = "Annotations_6fps"
JPEG_DIR = "JPEGImages_24fps"
VALTEST_FPS = 24.0


def valtest_dirs(root: str | os.PathLike) -> tuple[Path, Path]:
    """(Annotations_6fps, JPEGImages_24fps) folders for a split root or for its Annotations_6fps folder."""
    root = Path(root)
    split_root = root if (root / ANNOTATIONS_DIR).is_dir() else root.parent
    return split_root / ANNOTATIONS_DIR, split_root / JPEG_DIR


def subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder`` (videos of a split, objects of a video) by name, ignored ones left out
    (:func:`savkit.io.names.is_ignored_name`)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not is_ignored_name(p.name))


def object_folders(video_dir: Path) -> list[Path]:
    """The object folders (``000``, ``001``...) of a video, sorted by id; another name is a SavkitError."""
    return sorted(subfolders(video_dir), key=_object_id)


def _object_id(folder: Path) -> int:
    if not folder.name.isdigit():
        raise SavkitError(
            f"{folder}: an object folder is named by its id (000, 001, ...); rename or remove it"
        )
    return int(folder.name)


def annotated_frame_of(png: Path) -> int | None:
    """Video frame index of a mask PNG named by an annotated frame (a multiple of 4), else None."""
    if png.stem.isdigit() and int(png.stem) % FRAMES_PER_ANNOTATION == 0:
        return int(png.stem)
    return None


def frame_index(png: Path) -> int:
    """Video frame index of a mask PNG; it must be an annotated frame (a multiple of 4)."""
    index = annotated_frame_of(png)
    if index is None:
        raise SavkitError(
            f"{png}: mask PNGs are named by their 24 fps frame index, a multiple of {FRAMES_PER_ANNOTATION} "
            "(00000.png, 00004.png, ...)"
        )
    return index


def read_valtest_video(
    annotations_root: str | os.PathLike, video_id: str, split: str | None = None
) -> VideoAnnotations:
    """Annotations of one val/test video; masklet ids are the object folder names as integers.

    ``annotations_root`` is the split folder (``sav_val``) or its ``Annotations_6fps``. ``frame_count`` is the
    number of JPEGs, or the last annotated frame + 1 without them. An object without a PNG
    on a frame another object has gets an empty mask there (``savkit validate`` reports it). ``split``
    defaults to the split folder name without its ``sav_`` prefix. Val/test masks are all drawn by
    annotators (dataset README), so ``edited_frame_count`` is the number of annotated frames.
    """
    annotations_dir, jpeg_root = valtest_dirs(annotations_root)
    video_dir = annotations_dir / video_id
    if not video_dir.is_dir():
        raise SavkitError(
            f"video {video_id!r} not found: no folder {video_dir}; check the video id and the root"
        )
    masks_by_object = {_object_id(folder): _read_object_masks(folder) for folder in object_folders(video_dir)}
    frames = sorted({index for masks in masks_by_object.values() for index in masks})
    num_annotated = frames[-1] // FRAMES_PER_ANNOTATION + 1 if frames else 0
    jpegs = jpeg_frames(jpeg_root / video_id)
    height, width = _video_size(masks_by_object, jpegs, video_dir)
    frame_count = len(jpegs) or (frames[-1] + 1 if frames else 0)
    return VideoAnnotations(
        video_id=video_id,
        split=split or annotations_dir.parent.name.removeprefix("sav_"),
        duration=frame_count / VALTEST_FPS,
        frame_count=frame_count,
        height=height,
        width=width,
        environment=None,
        masklets=masklets_from_frame_rles(masks_by_object, num_annotated, (height, width)),
    )


def _read_object_masks(folder: Path) -> dict[int, dict]:
    """RLE of each mask PNG of one object, keyed by video frame index."""
    return {frame_index(png): rle.encode(read_png(png)) for png in mask_pngs(folder)}


def mask_pngs(folder: Path) -> list[Path]:
    """The PNGs of a mask folder, by name, ignored entries left out. A folder that cannot be listed is a
    SavkitError (a glob would read it as an object without masks)."""
    try:
        entries, _ = visible_entries(folder)
    except OSError as exc:
        raise unlistable(folder, exc) from None
    return [Path(entry.path) for entry in entries if entry.name.endswith(".png")]


def _video_size(
    masks_by_object: dict[int, dict[int, dict]], jpegs: list[Path], video_dir: Path
) -> tuple[int, int]:
    """(height, width) from the masks, all of which must agree, or from the first JPEG if there is no mask."""
    sizes = {tuple(r["size"]) for masks in masks_by_object.values() for r in masks.values()}
    if len(sizes) > 1:
        raise SavkitError(
            f"{video_dir}: mask PNGs have different sizes {sorted(sizes)}; run `savkit validate`"
        )
    if sizes:
        height, width = sizes.pop()
        return height, width
    if not jpegs:
        raise SavkitError(f"{video_dir}: no mask PNG and no JPEG frame to take the video size from")
    return jpeg_size(jpegs[0])


def jpeg_frames(folder: Path) -> list[Path]:
    """The frame JPEGs of a video folder, named by their 24 fps index (00000.jpg...), in index order."""
    return sorted(p for p in folder.glob("*.jpg") if p.stem.isdigit())


def jpeg_size(path: Path) -> tuple[int, int]:
    """(height, width) of a JPEG frame from its header; an unreadable file is a SavkitError."""
    try:
        with open_regular(path) as file, Image.open(file) as image:
            return image.height, image.width
    except OSError as exc:
        raise SavkitError(f"{path}: not a readable JPEG ({exc}); re-download the frames") from None
