"""Which videos, objects and frames an evaluation covers, following the official SA-V evaluator's rules.

The official crashes or silently scores garbage on several folder mistakes; here every such case is either a
:class:`SavkitError` (one line saying what to fix) or a warning in the plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from savkit.errors import SavkitError
from savkit.eval.masks import read_binary_mask
from savkit.io.names import ignored_message, visible_entries

SAV_LAYOUT = "sav"
DAVIS_LAYOUT = "davis"


@dataclass(frozen=True)
class EvalTask:
    """One unit of work: an object folder (SA-V layout) or a whole video (DAVIS layout)."""

    video: str
    object: str | None
    layout: str
    gt_dir: Path
    pred_dir: Path
    frames: tuple[str, ...]
    first_gt_frame: str
    #: (reported key, pixel id) of each object to score, when a meta file names them (mosev2, lvos)
    objects: tuple[tuple[str, int], ...] = ()
    #: the prediction folder is absent and the protocol scores its objects as zeros (mosev2)
    prediction_missing: bool = False
    #: per object of ``objects``, the frames it is scored on, when each has its own (lvos: its frame range)
    object_frames: tuple[tuple[str, ...], ...] = ()
    #: per object of ``objects``, evaluated positions without a frame, which the reference counts as J = F = 0 (lvos)
    zero_frames: tuple[int, ...] = ()


@dataclass
class EvalPlan:
    gt_root: Path
    pred_root: Path
    videos: list[str]
    tasks: list[EvalTask]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _FolderListing:
    dirs: list[str]
    pngs: list[str]


@dataclass
class _Tally:
    """Counts gathered while listing folders, turned into one warning each at the end."""

    stray_files: list[Path] = field(default_factory=list)
    ignored: int = 0  # hidden entries, __MACOSX (savkit.io.names)
    ignored_in: Path | None = None
    extra_pred_frames: int = 0
    extra_pred_objects: int = 0
    videos_without_frames: list[str] = field(default_factory=list)


def plan_evaluation(
    gt_root: str | os.PathLike, pred_root: str | os.PathLike, *, strict: bool, skip_first_and_last: bool
) -> EvalPlan:
    """List the tasks of an evaluation and the warnings about the folders."""
    gt = _existing_dir(gt_root, "--gt_root")
    pred = _existing_dir(pred_root, "--pred_root")
    gt = _descend_into_annotations(gt, pred)
    _check_not_a_single_video(gt, pred)
    warnings: list[str] = []
    if gt.resolve() == pred.resolve():
        warnings.append(f"the prediction root is the GT root ({gt}): these scores say nothing about a model")
    tally = _Tally()
    videos = _select_videos(gt, pred, strict, warnings, tally)
    tasks: list[EvalTask] = []
    for video in videos:
        tasks.extend(_video_tasks(gt / video, pred / video, video, skip_first_and_last, tally))
    warnings.extend(_tally_warnings(tally))
    return EvalPlan(gt, pred, videos, tasks, warnings)


def _existing_dir(path: str | os.PathLike, flag: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise SavkitError(f"{flag} {folder} {what}: give the folder that holds one sub-folder per video")
    return folder


def _descend_into_annotations(gt: Path, pred: Path) -> Path:
    """The official's convenience: a dataset root given as GT means its ``Annotations`` folder (entries counted
    without the ignored ones, as everywhere in savkit)."""
    annotations = gt / "Annotations"
    if len(visible_entries(gt)[0]) != len(visible_entries(pred)[0]) and annotations.is_dir():
        inner = visible_entries(annotations)[0]
        if inner and not inner[0].name.endswith(".png"):
            return annotations
    return gt


def _check_not_a_single_video(gt: Path, pred: Path) -> None:
    """A GT root one level too deep (a video's object folders) would be scored as DAVIS-layout videos: refuse it."""
    objects = _object_folders(gt)
    if objects:
        pred_hint = f" and --pred_root {pred.parent}" if _object_folders(pred) else ""
        raise SavkitError(
            f"--gt_root {gt} holds object folders ({', '.join(f'{name}/' for name in objects[:2])} ... of binary "
            f"PNGs): it looks like a single SA-V video, not a folder of videos; give its parent: "
            f"--gt_root {gt.parent}{pred_hint}"
        )


def _object_folders(root: Path) -> list[str]:
    """The sub-folders of ``root`` when they look like one SA-V video's object folders (numbered, holding only
    PNG files, the first of them binary), else an empty list."""
    folders = [entry for entry in visible_entries(root)[0] if entry.is_dir()]
    if not folders or not all(entry.name.isdigit() for entry in folders):
        return []
    for entry in folders:
        inner = visible_entries(entry.path)[0]
        if not inner or not all(e.name.endswith(".png") and e.is_file() for e in inner):
            return []
    try:
        read_binary_mask(Path(visible_entries(folders[0].path)[0][0].path))
    except SavkitError:
        return []
    return [entry.name for entry in folders]


def _visible(folder: Path, tally: _Tally) -> list[os.DirEntry]:
    """The entries of ``folder`` that are not ignored; the ignored ones are counted for a warning."""
    entries, ignored = visible_entries(folder)
    if ignored:
        tally.ignored += ignored
        tally.ignored_in = tally.ignored_in or folder
    return entries


def _subdirs(root: Path, tally: _Tally) -> set[str]:
    return {entry.name for entry in _visible(root, tally) if entry.is_dir()}


def _select_videos(gt: Path, pred: Path, strict: bool, warnings: list[str], tally: _Tally) -> list[str]:
    gt_videos, pred_videos = _subdirs(gt, tally), _subdirs(pred, tally)
    if not gt_videos:
        raise SavkitError(
            f"--gt_root {gt} holds no video folders: point it at the folder of per-video folders"
        )
    missing, extra = sorted(gt_videos - pred_videos), sorted(pred_videos - gt_videos)
    if strict and (missing or extra):
        side = (
            f"{len(missing)} GT videos have no prediction folder in {pred} (e.g. {missing[0]})"
            if missing
            else ""
        )
        other = f"{len(extra)} predicted videos are not in the GT (e.g. {extra[0]})" if extra else ""
        raise SavkitError(
            f"--strict: {'; '.join(s for s in (side, other) if s)}; drop -s to evaluate the intersection"
        )
    videos = sorted(gt_videos & pred_videos)
    if not videos:
        hint = (
            f"it looks like a single video's object folders: give its parent, --pred_root {pred.parent}"
            if _object_folders(pred)
            else "point it at the folder of per-video prediction folders"
        )
        raise SavkitError(
            f"--pred_root {pred} holds none of the {len(gt_videos)} GT video folders of {gt} "
            f"(e.g. {sorted(gt_videos)[0]}): {hint}"
        )
    if missing:
        warnings.append(f"{len(missing)} of {len(gt_videos)} GT videos have no prediction and were skipped")
    return videos


def _list_folder(folder: Path, tally: _Tally) -> _FolderListing:
    dirs, pngs = [], []
    for entry in _visible(folder, tally):
        if entry.is_dir():
            dirs.append(entry.name)
        elif entry.name.endswith(".png"):
            pngs.append(entry.name)
        else:
            tally.stray_files.append(Path(entry.path))
    return _FolderListing(sorted(dirs), sorted(pngs))


def _layout_of(listing: _FolderListing, folder: Path) -> str:
    if listing.dirs and listing.pngs:
        raise SavkitError(
            f"{folder} mixes object folders and PNG files: use one folder per object (SA-V) or one PNG per frame (DAVIS)"
        )
    if listing.dirs:
        return SAV_LAYOUT
    if listing.pngs:
        return DAVIS_LAYOUT
    raise SavkitError(f"{folder} holds no object folders and no PNG frames: remove it or fill it")


def _video_tasks(
    gt_video: Path, pred_video: Path, video: str, skip_first_and_last: bool, tally: _Tally
) -> list[EvalTask]:
    gt_listing = _list_folder(gt_video, tally)
    layout = _layout_of(gt_listing, gt_video)
    pred_listing = _list_folder(pred_video, tally)
    if not pred_listing.dirs and not pred_listing.pngs:
        raise SavkitError(f"{pred_video} is empty: it holds no predictions for video {video}")
    if _layout_of(pred_listing, pred_video) != layout:
        names = {
            SAV_LAYOUT: "SA-V (one folder per object)",
            DAVIS_LAYOUT: "DAVIS (one indexed PNG per frame)",
        }
        raise SavkitError(
            f"GT video {gt_video} is in the {names[layout]} layout but {pred_video} is not: "
            "write predictions in the GT's layout"
        )
    if layout == DAVIS_LAYOUT:
        frames = _evaluated_frames(gt_listing.pngs, skip_first_and_last, video, tally)
        _check_predicted_frames(frames, gt_listing.pngs, pred_listing.pngs, pred_video, tally)
        return [EvalTask(video, None, layout, gt_video, pred_video, frames, gt_listing.pngs[0])]
    tally.extra_pred_objects += len(set(pred_listing.dirs) - set(gt_listing.dirs))
    return [
        _object_task(video, name, gt_video / name, pred_video / name, skip_first_and_last, tally)
        for name in gt_listing.dirs
    ]


def _object_task(
    video: str, name: str, gt_dir: Path, pred_dir: Path, skip_first_and_last: bool, tally: _Tally
) -> EvalTask:
    gt_listing = _list_folder(gt_dir, tally)
    gt_frames = gt_listing.pngs
    if gt_listing.dirs and not gt_frames:
        raise SavkitError(
            f"{gt_dir} holds folders, not PNG frames: the roots look one level above the video folders; "
            f"give --gt_root {gt_dir.parent} and --pred_root {pred_dir.parent}"
        )
    if not gt_frames:
        raise SavkitError(f"GT object folder {gt_dir} holds no PNG frames: restore its masks")
    if not pred_dir.is_dir():
        raise SavkitError(f"missing prediction folder {pred_dir} for GT object {name} of video {video}")
    frames = _evaluated_frames(gt_frames, skip_first_and_last, f"{video}/{name}", tally)
    _check_predicted_frames(frames, gt_frames, _list_folder(pred_dir, tally).pngs, pred_dir, tally)
    return EvalTask(video, name, SAV_LAYOUT, gt_dir, pred_dir, frames, gt_frames[0])


def _evaluated_frames(
    gt_frames: list[str], skip_first_and_last: bool, where: str, tally: _Tally
) -> tuple[str, ...]:
    frames = tuple(gt_frames[1:-1] if skip_first_and_last else gt_frames)
    if not frames:
        tally.videos_without_frames.append(where)
    return frames


def _check_predicted_frames(
    frames: tuple[str, ...], gt_frames: list[str], pred_frames: list[str], pred_dir: Path, tally: _Tally
) -> None:
    predicted = set(pred_frames)
    missing = [frame for frame in frames if frame not in predicted]
    if missing:
        if predicted.isdisjoint(gt_frames):
            example = pred_frames[0] if pred_frames else "nothing"
            raise SavkitError(
                f"{pred_dir} holds none of the GT's frame names (GT {gt_frames[0]}, prediction {example}): "
                "wrong folder or frame naming? name predicted PNGs like the GT's"
            )
        raise SavkitError(
            f"missing predicted frame {pred_dir / missing[0]} ({len(missing)} of {len(frames)} missing): "
            "predict every annotated frame"
        )
    tally.extra_pred_frames += len(predicted.difference(gt_frames))


def _tally_warnings(tally: _Tally) -> list[str]:
    warnings = []
    if tally.ignored:
        warnings.append(ignored_message(tally.ignored, f"(e.g. in {tally.ignored_in})"))
    if tally.stray_files:
        warnings.append(f"ignored {len(tally.stray_files)} non-PNG files such as {tally.stray_files[0]}")
    if tally.extra_pred_frames:
        warnings.append(f"ignored {tally.extra_pred_frames} predicted frames that the GT does not annotate")
    if tally.extra_pred_objects:
        warnings.append(
            f"ignored {tally.extra_pred_objects} predicted object folders that the GT does not have"
        )
    if tally.videos_without_frames:
        warnings.append(
            f"{len(tally.videos_without_frames)} objects/videos have no frame left to evaluate after skipping the "
            f"first and last (e.g. {tally.videos_without_frames[0]}): they are not scored"
        )
    return warnings
