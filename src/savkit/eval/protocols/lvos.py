"""Protocol ``lvos``: LingyiHongfd/lvos-evaluation, semi-supervised task (``lvos/evaluation.py``).

Rules, as that code computes them:

* Videos and objects come from ``--meta`` (``valid_meta.json``: ``videos`` -> ``objects`` -> ``frame_range`` with
  ``start``, ``end``, ``frame_nums``), sorted by video name. Each object is scored on its own frames:
  ``{k:08d}.png`` for k in range(start, end, 5), positions 1 .. frame_nums-2 (first and last left out). A pixel
  belongs to the object when its value equals the object's id (no void).
* J and F are davis2017's, with the reference's Python boundary path (its optional Cython code finds fewer
  boundary pixels; the Python one is what its README documents as equal).
* Objects are reported by their position in the meta (1, 2, ...), as the reference names them ``{video}_{k}``.
* Positions of the range without a frame count as J = F = 0 (the reference's zero-filled arrays); positions beyond
  ``frame_nums - 2`` are ignored with a warning (the reference crashes there).
* V = sqrt(round(var, 4)) of the per-frame (J + F) / 2 (numpy's rounding, on the 0..1 scale).
* Seen / unseen: a video is unseen when its name is in ``--unseen-list`` (the reference's ``unseen_videos.txt``).
  J&F = mean of J_seen, F_seen, J_unseen and F_unseen; J, F and V are the means of their seen and unseen values.
  With no object in a group the reference gives NaN: savkit averages the group that has objects, and warns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.discover import DAVIS_LAYOUT, EvalPlan, EvalTask
from savkit.eval.meta import existing_root, read_meta_videos, read_name_list
from savkit.eval.metrics import nan_mean, nonzero_crop, score_frame, tolerance_disk
from savkit.eval.protocols.base import ObjectFrames, Protocol, VideoScorer

FRAME_STEP = 5


class LvosScorer(VideoScorer):
    """Every object of one video, each on its own frames: a frame shared by several objects is read once."""

    def __init__(self, task: EvalTask) -> None:
        super().__init__(task)
        self.scored_at: dict[str, list[tuple[int, int]]] = {}  # frame -> (position, pixel id) scored there
        for position, ((_, object_id), frames) in enumerate(
            zip(task.objects, task.object_frames, strict=True)
        ):
            for frame in frames:
                self.scored_at.setdefault(frame, []).append((position, object_id))

    def feed(self, frame: str, gt: np.ndarray, pred: np.ndarray) -> None:
        disk = tolerance_disk(*gt.shape)
        crop = nonzero_crop(gt, pred)
        gt, pred = gt[crop], pred[crop]
        for position, object_id in self.scored_at[frame]:
            mask = pred == object_id
            if mask.any():
                self.prediction_empty = False
            j, f = score_frame(mask, gt == object_id, disk)
            self.frames[position].append(frame)
            self.j[position].append(j)
            self.f[position].append(f)

    def conclude(self) -> list[int]:
        return list(range(len(self.task.objects)))

    def _object_frames(self, position: int) -> ObjectFrames:
        key = self.task.objects[position][0]
        zeros = [0.0] * self.task.zero_frames[position]
        return ObjectFrames(
            self.task.video,
            key,
            int(key),
            self.frames[position],
            self.j[position] + zeros,
            self.f[position] + zeros,
        )


def lvos_v(j: np.ndarray, f: np.ndarray) -> float:
    """The reference's V of one object: sqrt of the variance of (J + F) / 2 rounded to 4 places (0..1 scale)."""
    jf = (j + f) / 2
    variance = np.nansum((np.nanmean(jf) - jf) ** 2) / len(jf)
    return float(np.sqrt(np.round(variance, 4)))


class LvosProtocol(Protocol):
    name = "lvos"
    table_columns = ("J&F", "J", "F", "V")

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self._unseen: set[str] | None = None

    @property
    def unseen(self) -> set[str]:
        if self._unseen is None:
            self._unseen = read_name_list(
                self.options.unseen_list,
                "--unseen-list",
                "LVOS splits its scores into seen and unseen categories: give the unseen_videos.txt that "
                "lvos-evaluation ships",
            )
        return self._unseen

    def plan(self, gt_root, pred_root) -> EvalPlan:
        meta = read_meta_videos(self.options.meta, self.name)
        self.unseen  # noqa: B018  (a missing or unreadable list fails before any frame is read)
        gt = existing_root(gt_root, "--gt_root")
        if (gt / "Annotations").is_dir():
            gt = gt / "Annotations"
        pred = existing_root(pred_root, "--pred_root")
        videos = sorted(meta)
        tasks, warnings = [], []
        for video in videos:
            task = _video_task(gt, pred, video, meta[video], warnings)
            if task is not None:
                tasks.append(task)
        if not tasks:
            raise SavkitError(f"--meta {self.options.meta} lists no object to evaluate")
        return EvalPlan(gt, pred, videos, tasks, warnings)

    def scorer(self, task: EvalTask, first_gt: np.ndarray | None) -> VideoScorer:
        return LvosScorer(task)

    def object_statistics(self, frames: ObjectFrames) -> dict[str, float]:
        j, f = np.asarray(frames.j, dtype=float), np.asarray(frames.f, dtype=float)
        j_mean, f_mean = nan_mean(j) * 100, nan_mean(f) * 100
        return {"J&F": (j_mean + f_mean) / 2, "J": j_mean, "F": f_mean, "V": lvos_v(j, f) * 100}

    def _groups(self, objects) -> dict[str, list[dict[str, float]]]:
        groups: dict[str, list[dict[str, float]]] = {"seen": [], "unseen": []}
        for frames, stats in objects:
            groups["unseen" if frames.video in self.unseen else "seen"].append(stats)
        return groups

    def global_statistics(self, objects):
        groups = {name: stats for name, stats in self._groups(objects).items() if stats}
        scores: dict[str, float | None] = {}
        for group in ("seen", "unseen"):
            for name in ("J", "F", "V"):
                values = [stats[name] for stats in groups.get(group, [])]
                scores[f"{name}_{group}"] = float(np.mean(values)) if values else None
        for name in ("J", "F", "V"):
            present = [scores[f"{name}_{group}"] for group in groups]
            scores[name] = float(np.mean(present))
        scores["J&F"] = float(np.mean([scores[f"{name}_{group}"] for group in groups for name in ("J", "F")]))
        return {"J&F": scores.pop("J&F"), **scores}

    def global_warnings(self, objects) -> list[str]:
        groups = self._groups(objects)
        return [
            f"no {group} video among the evaluated ones: J&F, J, F and V average the other group only "
            "(the reference gives NaN)"
            for group in ("seen", "unseen")
            if not groups[group]
        ]


def _video_task(gt: Path, pred: Path, video: str, info: dict, warnings: list[str]) -> EvalTask | None:
    """One task per video (each frame read once), holding each object's own frames and zero padding."""
    objects = info.get("objects") if isinstance(info, dict) else None
    if not isinstance(objects, dict):
        raise SavkitError(f"--meta: video {video} has no 'objects' mapping: wrong meta file?")
    keys, object_frames, zero_frames = [], [], []
    for position, (object_id, entry) in enumerate(objects.items(), start=1):
        try:
            frame_range = entry["frame_range"]
            start, end, count = (
                int(frame_range["start"]),
                int(frame_range["end"]),
                int(frame_range["frame_nums"]),
            )
        except (KeyError, TypeError, ValueError):
            raise SavkitError(f"--meta: object {object_id} of {video} has no valid frame_range") from None
        names = [f"{k:08d}.png" for k in range(start, end, FRAME_STEP)]
        frames = tuple(names[1 : max(1, min(len(names), count - 1))])
        if len(names) > count:
            warnings.append(
                f"{video} object {object_id}: its range has {len(names)} frames but frame_nums is {count}: "
                f"the {len(names) - count} extra frames are ignored (the reference crashes here)"
            )
        keys.append((str(position), int(object_id)))
        object_frames.append(frames)
        zero_frames.append(max(count - 2, 0) - len(frames))
    if not keys:
        return None
    frames = tuple(sorted(set().union(*object_frames)))
    for frame in frames:
        _check_frame(gt / video / frame, "GT")
        _check_frame(pred / video / frame, "predicted")
    return EvalTask(
        video,
        None,
        DAVIS_LAYOUT,
        gt / video,
        pred / video,
        frames,
        frames[0] if frames else "",
        tuple(keys),
        object_frames=tuple(object_frames),
        zero_frames=tuple(zero_frames),
    )


def _check_frame(path: Path, what: str) -> None:
    if not path.is_file():
        raise SavkitError(f"missing {what} frame {path}: LVOS scores every 5th frame of each object's range")
