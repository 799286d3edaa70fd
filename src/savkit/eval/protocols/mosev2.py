"""Protocol ``mosev2``: henghuiding/MOSE-api ``MOSEv2`` (``metricsv2.py``, ``score.py``).

Rules, as that code computes them:

* Videos: the GT root's video folders; each must be in ``--meta`` (``meta.json``: ``videos`` -> ``length``,
  ``objects``), and its GT folder must hold ``length`` frames. Objects: the meta's object ids. No void: a pixel
  belongs to an object when its value equals the id.
* Frames are taken **by position in the prediction folder**: its PNGs sorted by number, positions 1 .. length-2
  (first and last left out); the GT frame of the same name is read. A prediction root holding a single folder that
  is not a video is descended into, as the reference does.
* J = (|M ∩ G| + 1) / (|M ∪ G| + 1), and 1 when the union is empty.
* Ḟ (``F_adaptive``): the boundary tolerance is ceil(0.1 * sqrt(GT area)) (ceil(0.1 * diagonal) for an empty GT),
  capped at 0.008 * diagonal (not rounded). Under the cap, classic F uses ceil(0.008 * diagonal); at the cap both use
  the cap itself: scikit-image's ``disk`` of a non-integer radius, an off-centre kernel, dilated as OpenCV does.
* Per object: J, F, Ḟ means; J&F = (J + F) / 2, J&Ḟ = (J + Ḟ) / 2. Disappear / reappear: over the segments where
  the GT becomes empty (not counting one that starts at the first evaluated frame) or comes back, the mean J and Ḟ
  per segment, averaged over segments; globally, means over the objects that have such segments.
* A video without a prediction folder scores 0 for its objects (warned; ``-s`` makes it an error), as do objects of
  videos too short to have an evaluated frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import DAVIS_LAYOUT, EvalPlan, EvalTask
from savkit.eval.meta import existing_root, png_names, read_meta_videos, video_folders
from savkit.eval.metrics import diagonal_radius, frame_parts, nonzero_crop
from savkit.eval.protocols.base import ObjectFrames, Protocol, VideoScorer
from savkit.io.names import is_ignored_name

ADAPTIVE_FRACTION = 0.1  # MOSEv2's bound_th in the 'area' mode


def mose_j(intersection: int, union: int) -> float:
    """MOSEv2's J: (I + 1) / (U + 1), and 1 when both masks are empty."""
    return 1.0 if union == 0 else min((intersection + 1) / (union + 1), 1.0)


def adaptive_radius(gt_area: int, height: int, width: int) -> float:
    """The adaptive tolerance radius, capped at 0.008 * diagonal (the cap is not rounded)."""
    diagonal = float(np.linalg.norm((height, width)))
    if gt_area:
        radius = float(np.ceil(ADAPTIVE_FRACTION * np.sqrt(gt_area)))
    else:
        radius = float(np.ceil(ADAPTIVE_FRACTION * diagonal))
    return min(0.008 * diagonal, radius)


class Mosev2Scorer(VideoScorer):
    def __init__(self, task: EvalTask) -> None:
        super().__init__(task)
        self.f_adaptive: dict[int, list[float]] = {object_id: [] for _, object_id in task.objects}
        self.gt_empty: dict[int, list[float]] = {object_id: [] for _, object_id in task.objects}

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        height, width = gt.shape
        cap = 0.008 * float(np.linalg.norm((height, width)))
        crop = nonzero_crop(gt, pred)
        gt, pred = gt[crop], pred[crop]
        if pred.any():
            self.prediction_empty = False
        for _, object_id in self.task.objects:
            parts = frame_parts(pred == object_id, gt == object_id)
            radius = adaptive_radius(parts.gt_area, height, width)
            if radius < cap:
                classic, adaptive = parts.f(diagonal_radius(height, width)), parts.f(radius)
            else:
                classic = adaptive = parts.f(cap)
            self.frames[object_id].append(frame)
            self.j[object_id].append(mose_j(parts.intersection, parts.union))
            self.f[object_id].append(classic)
            self.f_adaptive[object_id].append(adaptive)
            self.gt_empty[object_id].append(float(parts.gt_area == 0))

    def conclude(self) -> list[int]:
        return [object_id for _, object_id in self.task.objects]

    def _object_frames(self, object_id: int) -> ObjectFrames:
        key = next(key for key, id_ in self.task.objects if id_ == object_id)
        extra = {"F_adaptive": self.f_adaptive[object_id], "GT_empty": self.gt_empty[object_id]}
        return ObjectFrames(
            self.task.video, key, None, self.frames[object_id], self.j[object_id], self.f[object_id], extra
        )


def _segment_means(j: np.ndarray, f: np.ndarray, starts, ends) -> tuple[float, float] | None:
    segments = [(j[a:b].mean(), f[a:b].mean()) for a, b in zip(starts, ends, strict=True)]
    if not segments:
        return None
    return float(np.mean([s[0] for s in segments])), float(np.mean([s[1] for s in segments]))


def disappear_reappear(j: np.ndarray, f: np.ndarray, gt_empty: np.ndarray):
    """MOSEv2's (J, Ḟ) over the disappearance segments and over the reappearance segments, each or None."""
    disappear = np.where(~gt_empty[:-1] & gt_empty[1:])[0] + 1
    if gt_empty[0]:
        disappear = np.insert(disappear, 0, 0)
    reappear = np.where(gt_empty[:-1] & ~gt_empty[1:])[0] + 1
    gone = [
        (start, reappear[i] if i < len(reappear) else len(gt_empty))
        for i, start in enumerate(disappear)
        if start > 0
    ]
    back = [
        (start, disappear[i + 1] if i + 1 < len(disappear) else len(gt_empty))
        for i, start in enumerate(reappear)
    ]
    return (
        _segment_means(j, f, [a for a, _ in gone], [b for _, b in gone]),
        _segment_means(j, f, [a for a, _ in back], [b for _, b in back]),
    )


class Mosev2Protocol(Protocol):
    name = "mosev2"
    table_columns = (
        "J&F_adaptive",
        "J",
        "F_adaptive",
        "disappear_J&F_adaptive",
        "reappear_J&F_adaptive",
        "F",
        "J&F",
    )

    def plan(self, gt_root, pred_root) -> EvalPlan:
        meta = read_meta_videos(self.options.meta, self.name)
        gt = existing_root(gt_root, "--gt_root")
        if (gt / "Annotations").is_dir() and not set(video_folders(gt)) & set(meta):
            gt = gt / "Annotations"
        pred = _prediction_root(existing_root(pred_root, "--pred_root"), meta)
        videos = video_folders(gt)
        if not videos:
            raise SavkitError(
                f"--gt_root {gt} holds no video folders: point it at MOSEv2's Annotations folder"
            )
        missing = [video for video in videos if not (pred / video).is_dir()]
        if missing and self.options.strict:
            raise SavkitError(
                f"--strict: {len(missing)} GT videos have no prediction folder in {pred} (e.g. {missing[0]})"
            )
        tasks = [_video_task(gt, pred, video, meta) for video in videos]
        warnings = []
        if missing:
            warnings.append(
                f"{len(missing)} of {len(videos)} GT videos have no prediction (e.g. {missing[0]}): their objects "
                "score 0, as in the reference"
            )
        return EvalPlan(gt, pred, videos, tasks, warnings)

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        return Mosev2Scorer(task)

    def object_statistics(self, frames: ObjectFrames) -> dict[str, float | None]:
        if not frames.j:
            zeros = dict.fromkeys(("J&F_adaptive", "J", "F_adaptive", "F", "J&F"), 0.0)
            segments = (
                f"{s}_{n}" for s in ("disappear", "reappear") for n in ("J", "F_adaptive", "J&F_adaptive")
            )
            return {**zeros, **dict.fromkeys(segments)}
        j, f = np.asarray(frames.j), np.asarray(frames.f)
        adaptive = np.asarray(frames.extra["F_adaptive"])
        gone, back = disappear_reappear(j, adaptive, np.asarray(frames.extra["GT_empty"], dtype=bool))
        stats = _headline_scores(j.mean() * 100, f.mean() * 100, adaptive.mean() * 100)
        for name, pair in (("disappear", gone), ("reappear", back)):
            stats[f"{name}_J"] = None if pair is None else pair[0] * 100
            stats[f"{name}_F_adaptive"] = None if pair is None else pair[1] * 100
            stats[f"{name}_J&F_adaptive"] = None if pair is None else (pair[0] + pair[1]) * 50
        return stats

    def global_statistics(self, objects):
        def mean(name: str) -> float | None:
            values = [stats[name] for _, stats in objects if stats.get(name) is not None]
            return float(np.mean(values)) if values else None

        scores = _headline_scores(mean("J"), mean("F"), mean("F_adaptive"))
        for name in ("disappear", "reappear"):
            seg_j, seg_f = mean(f"{name}_J"), mean(f"{name}_F_adaptive")
            scores[f"{name}_J&F_adaptive"] = None if seg_j is None else (seg_j + seg_f) / 2
        return scores

    def global_warnings(self, objects) -> list[str]:
        warnings = []
        for name, verb in (("disappear", "disappears"), ("reappear", "reappears")):
            if all(stats.get(f"{name}_J") is None for _, stats in objects):
                warnings.append(f"no object {verb} in the evaluated frames: {name}_J&F_adaptive is undefined")
        empty = [f"{frames.video}/{frames.object}" for frames, _ in objects if not frames.j]
        if empty:
            warnings.append(
                f"{len(empty)} objects have no evaluated frame (no prediction, or a video of 2 frames or fewer; "
                f"e.g. {empty[0]}): they score 0, as in the reference"
            )
        return warnings


def _headline_scores(j: float, f: float, adaptive: float) -> dict[str, float]:
    """MOSEv2's headline numbers from J, classic F and adaptive Ḟ (percent), in its report's order."""
    return {"J&F_adaptive": (j + adaptive) / 2, "J": j, "F_adaptive": adaptive, "F": f, "J&F": (j + f) / 2}


def _prediction_root(pred: Path, meta: dict) -> Path:
    """The reference's convenience: a prediction root holding one folder (not a video) means that folder."""
    entries = [name for name in os.listdir(pred) if not is_ignored_name(name)]
    if len(entries) == 1 and (pred / entries[0]).is_dir() and entries[0] not in meta:
        return pred / entries[0]
    return pred


def _frame_number(name: str, folder: Path) -> int:
    try:
        return int(name.split(".")[0])
    except ValueError:
        raise SavkitError(
            f"{folder / name}: MOSEv2 takes frames by number; name predicted PNGs like the GT's (00000.png ...)"
        ) from None


def _video_task(gt: Path, pred: Path, video: str, meta: dict) -> EvalTask:
    info = meta.get(video)
    if not isinstance(info, dict) or "length" not in info or "objects" not in info:
        raise SavkitError(
            f"GT video {gt / video} is not in --meta (or has no length/objects): wrong meta file?"
        )
    length = int(info["length"])
    gt_count = len(png_names(gt / video))
    if gt_count != length:
        raise SavkitError(
            f"GT video {gt / video} has {gt_count} frames but the meta says {length}: wrong meta file?"
        )
    objects = tuple((str(key), int(key)) for key in info["objects"])
    pred_dir = pred / video
    if not pred_dir.is_dir():
        return EvalTask(
            video, None, DAVIS_LAYOUT, gt / video, pred_dir, (), "", objects, prediction_missing=True
        )
    names = sorted(png_names(pred_dir), key=lambda name: _frame_number(name, pred_dir))
    wanted = range(1, length - 1)
    if length > 2 and len(names) < length - 1:
        raise SavkitError(
            f"{pred_dir} holds {len(names)} predicted frames but MOSEv2 scores positions 1..{length - 2} of "
            f"{length}: predict every frame"
        )
    frames = tuple(names[k] for k in wanted)
    for frame in frames:
        if not (gt / video / frame).is_file():
            raise SavkitError(
                f"{pred_dir / frame} has no GT frame {gt / video / frame}: name predicted PNGs like the GT's"
            )
    return EvalTask(
        video, None, DAVIS_LAYOUT, gt / video, pred_dir, frames, frames[0] if frames else "", objects
    )
