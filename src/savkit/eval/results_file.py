"""Reading back the ``results.json`` that ``savkit eval`` writes, for the tools that show or compare results
(``savkit serve``, ``savkit report``, ``savkit compare``), and finding the masks a result was computed from.

Names in a results file become paths (``{root}/{video}/{object}/{frame}.png``), so they are checked here once:
plain video ids, numeric object and frame names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from savkit.errors import SavkitError
from savkit.eval.masks import id_mask, read_binary_mask, read_label_mask
from savkit.io.names import video_id_problem

REQUIRED_FIELDS = ("video", "object", "frames", "J_frames")
_DIGITS = re.compile(r"[0-9]{1,9}")


def read_results(path: str | Path, required: tuple[str, ...] = REQUIRED_FIELDS) -> dict:
    """A results file as a dict, or a one-line SavkitError saying why it is not one savkit wrote."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SavkitError(f"{path}: no such file; pass a results.json written by `savkit eval`") from None
    except (OSError, ValueError) as exc:
        raise SavkitError(
            f"{path}: not a readable JSON file ({exc}); pass a results.json of `savkit eval`"
        ) from None
    problem = results_problem(data, required)
    if problem:
        raise SavkitError(f"{path}: not a results.json written by `savkit eval` ({problem})")
    return data


def results_problem(data: object, required: tuple[str, ...] = REQUIRED_FIELDS) -> str | None:
    """Why ``data`` is not a usable results.json, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        return "no 'objects' list"
    for number, obj in enumerate(data["objects"]):
        if not isinstance(obj, dict) or any(name not in obj for name in required):
            return f"object {number} lacks one of {', '.join(required)}"
        if not isinstance(obj["video"], str) or video_id_problem(obj["video"]):
            return f"object {number}: video {obj['video']!r} is not a plain video id"
        if not isinstance(obj["object"], str) or not _DIGITS.fullmatch(obj["object"]):
            return f"object {number}: object {obj['object']!r} is not a number"
        frames = obj["frames"]
        if not all(isinstance(frame, str) and _DIGITS.fullmatch(frame) for frame in frames):
            return f"object {number}: frame names must be numbers like 00004"
        f_frames = obj.get("F_frames") or frames  # J-only protocols (vost) write no F
        if not (len(frames) == len(obj["J_frames"]) == len(f_frames)) or not frames:
            return f"object {number}: frames, J_frames and F_frames differ in length or are empty"
    return None


def headline(obj: dict) -> float:
    """An object's main score in percent: J&F, or J for the protocols that score J only."""
    return float(obj["J&F"] if obj.get("J&F") is not None else obj["J"])


def frame_scores(obj: dict) -> np.ndarray:
    """Per-frame (J + F) / 2 (or J alone), 0..1."""
    j = np.asarray(obj["J_frames"], float)
    f = np.asarray(obj.get("F_frames") or obj["J_frames"], float)
    return (j + f) / 2


def worst_frames(obj: dict, count: int) -> list[str]:
    """The ``count`` frames of an object with the lowest (J + F) / 2, worst first (ties: earlier frame first)."""
    order = np.argsort(frame_scores(obj), kind="stable")[:count]
    return [obj["frames"][i] for i in order]


def object_mask(root: Path, obj: dict, frame: str) -> np.ndarray | None:
    """The mask of ``obj`` on ``frame`` under a mask root in either layout (SA-V per-object folders or DAVIS
    label PNGs, object = label), None when the file is absent."""
    per_object = root / obj["video"] / obj["object"] / f"{frame}.png"
    if per_object.is_file():
        return read_binary_mask(per_object)
    labels = root / obj["video"] / f"{frame}.png"
    if labels.is_file():
        return id_mask(read_label_mask(labels), int(obj["object"]))
    return None
