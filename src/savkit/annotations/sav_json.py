"""Read and write SA-V train annotation JSONs (``{video_id}_manual.json``, ``{video_id}_auto.json``).

The writer reproduces the release's layout (key order, video numbers as floats, ``masklet_first_appeared_frame``
as float in manual and int in auto files, ``masklet_stability_score`` as one null per masklet in manual files
and as a frames x masklets list in auto files), so JSON -> model -> JSON gives back the released bytes.
:func:`sav_json_problems` is the one schema definition: the reader raises on its first problem, ``savkit
validate`` reports them all.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from savkit.annotations.model import MASKLET_TYPES, Masklet, VideoAnnotations, check_masklet_type
from savkit.errors import SavkitError
from savkit.io.atomic import write_text_atomic
from savkit.io.files import read_regular
from savkit.io.limits import MAX_PIXELS_VARIABLE, max_pixels, size_problem

SIZE_BUCKETS = ("small", "medium", "large")


@dataclass(frozen=True)
class SchemaProblem:
    """A field of an annotation JSON that does not have the expected type, value or length."""

    field: str
    expected: str
    found: str


_BUCKET_KIND, _TYPE_KIND = f"one of {'/'.join(SIZE_BUCKETS)}", f"one of {'/'.join(MASKLET_TYPES)}"
# kind name -> test of one JSON value
_KINDS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "string or null": lambda v: v is None or isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "whole number": lambda v: _is_number(v) and float(v).is_integer(),
    "number": lambda v: _is_number(v),
    _BUCKET_KIND: lambda v: v in SIZE_BUCKETS,
    _TYPE_KIND: lambda v: v in MASKLET_TYPES,
}

VIDEO_FIELDS = {
    "video_id": "string",
    "video_duration": "number",
    "video_frame_count": "whole number",
    "video_height": "whole number",
    "video_width": "whole number",
    "video_resolution": "whole number",
    "video_environment": "string or null",
    "video_split": "string",
}
MASKLET_FIELDS = {
    "masklet_id": "integer",
    "masklet_size_rel": "number",
    "masklet_size_abs": "number",
    "masklet_size_bucket": _BUCKET_KIND,
    "masklet_visibility_changes": "integer",
    "masklet_first_appeared_frame": "whole number",
    "masklet_frame_count": "integer",
    "masklet_edited_frame_count": "integer",
    "masklet_type": _TYPE_KIND,
}
KEY_ORDER = [*VIDEO_FIELDS, "masklet", *MASKLET_FIELDS, "masklet_stability_score", "masklet_num"]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_json(path: str | os.PathLike) -> object:
    """Parse a JSON file; a missing, unreadable, truncated, corrupt or too deeply nested file, or one that is not a
    regular file (a FIFO would hang), is a SavkitError."""
    try:
        text = read_regular(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SavkitError(f"{path}: cannot read ({exc}); check the file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SavkitError(
            f"{path}: not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}; truncated download?); "
            "download the file again"
        ) from None
    except RecursionError:
        raise SavkitError(
            f"{path}: JSON nested too deeply to be an SA-V annotation file; check the file"
        ) from None


# ----------------------------------------------------------------------------------------------------- schema


def sav_json_problems(data: object) -> list[SchemaProblem]:
    """Every schema problem of a parsed SA-V JSON: missing keys, types, list lengths, RLE sizes."""
    if not isinstance(data, dict):
        return [SchemaProblem("(file)", "a JSON object", type(data).__name__)]
    problems = [SchemaProblem(key, "present", "missing") for key in KEY_ORDER if key not in data]
    for key, kind in VIDEO_FIELDS.items():
        if key in data and not _KINDS[kind](data[key]):
            problems.append(SchemaProblem(key, kind, _show(data[key])))
    problems += _video_size_problems(data)
    if not _KINDS["integer"](data.get("masklet_num")):
        if "masklet_num" in data:
            problems.append(SchemaProblem("masklet_num", "integer", _show(data["masklet_num"])))
        return problems
    count = data["masklet_num"]
    for key, kind in MASKLET_FIELDS.items():
        if key in data:
            problems += _list_problems(key, data[key], kind, _KINDS[kind], count)
    if "masklet" in data:
        problems += _rle_problems(data, count)
    if "masklet_stability_score" in data:
        problems += _stability_problems(data, count)
    return problems


def _list_problems(
    key: str,
    values: object,
    kind: str,
    is_valid: Callable[[object], bool],
    length: int,
    length_source: str = "masklet_num",
) -> list[SchemaProblem]:
    """The list's length and the kind of every item; repeated bad items are reported once, with a count."""
    if not isinstance(values, list):
        return [SchemaProblem(key, f"a list of {length} ({length_source})", _show(values))]
    problems = []
    if len(values) != length:
        problems.append(SchemaProblem(f"{key} length", f"{length} ({length_source})", str(len(values))))
    bad = [i for i, value in enumerate(values) if not is_valid(value)]
    if bad:
        problems.append(_first_of(f"{key}[{bad[0]}]", kind, values[bad[0]], len(bad)))
    return problems


def _first_of(field: str, expected: str, found: object, count: int) -> SchemaProblem:
    more = f" (+{count - 1} more)" if count > 1 else ""
    return SchemaProblem(field, expected, _show(found) + more)


def _video_size(data: dict) -> list[int] | None:
    height, width = data.get("video_height"), data.get("video_width")
    if _KINDS["whole number"](height) and _KINDS["whole number"](width):
        return [int(height), int(width)]
    return None


def _video_size_problems(data: dict) -> list[SchemaProblem]:
    """The video size within the pixel limit, checked before any mask is decoded: every RLE has this size (see
    :func:`_rle_problems`), and a 1 KB file can declare masks of gigabytes."""
    size = _video_size(data)
    if size is None or size_problem(*size) is None:
        return []
    height, width = size
    return [
        SchemaProblem(
            "video_height x video_width",
            f"at most {max_pixels():,} pixels (raise {MAX_PIXELS_VARIABLE} if real)",
            f"{height} x {width} = {height * width:,}",
        )
    ]


def _rle_problems(data: dict, count: int) -> list[SchemaProblem]:
    """``masklet`` is a list over annotated frames of masklet_num RLEs whose ``size`` is the video size."""
    frames = data["masklet"]
    if not isinstance(frames, list):
        return [SchemaProblem("masklet", "a list over annotated frames", _show(frames))]
    problems = []
    short = [k for k, frame in enumerate(frames) if not (isinstance(frame, list) and len(frame) == count)]
    if short:
        found = frames[short[0]]
        found_text = f"{len(found)} RLEs" if isinstance(found, list) else found
        problems.append(
            _first_of(f"masklet[{short[0]}]", f"{count} RLEs (masklet_num)", found_text, len(short))
        )
    size = _video_size(data)
    if size is not None and _all_rles_plainly_fit(frames, size):
        return problems
    rles = [
        (k, j, r) for k, frame in enumerate(frames) if isinstance(frame, list) for j, r in enumerate(frame)
    ]
    malformed = [(k, j, r) for k, j, r in rles if not _is_rle(r)]
    if malformed:
        k, j, r = malformed[0]
        problems.append(_first_of(f"masklet[{k}][{j}]", '{"size": [h, w], "counts": str}', r, len(malformed)))
    wrong_size = [(k, j, r) for k, j, r in rles if size is not None and _is_rle(r) and r["size"] != size]
    if wrong_size:
        k, j, r = wrong_size[0]
        problems.append(
            _first_of(f"masklet[{k}][{j}].size", f"{size} (video size)", r["size"], len(wrong_size))
        )
    return problems


def _all_rles_plainly_fit(frames: list, size: list[int]) -> bool:
    """The usual file in one cheap pass (the detailed RLE checks cost as much as parsing the JSON): every RLE a
    dict with string counts and a size of two plain ints equal to the video size. True implies that the detailed
    checks find nothing; False sends the file through them, for their messages."""
    if min(size) < 0:
        return False
    return all(
        type(r) is dict
        and type(r.get("counts")) is str
        and type(rle_size := r.get("size")) is list
        and rle_size == size
        and type(rle_size[0]) is int
        and type(rle_size[1]) is int
        for frame in frames
        if isinstance(frame, list)
        for r in frame
    )


def _is_rle(value: object) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("counts"), str):
        return False
    size = value.get("size")
    return isinstance(size, list) and len(size) == 2 and all(_KINDS["integer"](n) and n >= 0 for n in size)


def _stability_problems(data: dict, count: int) -> list[SchemaProblem]:
    """Files with auto masklets: annotated frames x masklet_num scores; manual files: one null per masklet."""
    scores = data["masklet_stability_score"]
    types = data.get("masklet_type")
    if not (isinstance(types, list) and "auto" in types):
        return _list_problems("masklet_stability_score", scores, "null (manual)", lambda v: v is None, count)
    frames = data.get("masklet")
    return _list_problems(
        "masklet_stability_score",
        scores,
        f"a list of {count} numbers (masklet_num)",
        lambda f: isinstance(f, list) and len(f) == count and all(_is_number(v) for v in f),
        len(frames) if isinstance(frames, list) else 0,
        "annotated frames",
    )


# ----------------------------------------------------------------------------------------------------- model


def from_sav_dict(data: dict) -> VideoAnnotations:
    """Build the model from a schema-valid SA-V JSON dict (see :func:`sav_json_problems`)."""
    frames = data["masklet"]
    scores = data["masklet_stability_score"]
    per_frame_scores = (
        bool(frames) and len(scores) == len(frames) and all(isinstance(s, list) for s in scores)
    )
    masklets = [
        Masklet(
            id=data["masklet_id"][j],
            type=data["masklet_type"][j],
            rles=[frame[j] for frame in frames],
            size_rel=data["masklet_size_rel"][j],
            size_abs=data["masklet_size_abs"][j],
            size_bucket=data["masklet_size_bucket"][j],
            visibility_changes=data["masklet_visibility_changes"][j],
            first_appeared_frame=int(data["masklet_first_appeared_frame"][j]),
            frame_count=data["masklet_frame_count"][j],
            edited_frame_count=data["masklet_edited_frame_count"][j],
            stability_score=[frame[j] for frame in scores] if per_frame_scores else None,
        )
        for j in range(data["masklet_num"])
    ]
    return VideoAnnotations(
        video_id=data["video_id"],
        split=data["video_split"],
        duration=data["video_duration"],
        frame_count=int(data["video_frame_count"]),
        height=int(data["video_height"]),
        width=int(data["video_width"]),
        environment=data["video_environment"],
        masklets=masklets,
    )


def to_sav_dict(annotations: VideoAnnotations, type: str) -> dict:
    """The SA-V JSON dict of the ``type`` ("manual" or "auto") masklets, laid out as the release does."""
    check_masklet_type(type, required=True)
    masklets = [m for m in annotations.masklets if m.type == type]
    num_frames = annotations.num_annotated_frames
    if any(len(m) != num_frames for m in masklets):
        lengths = sorted({len(m) for m in masklets})
        raise SavkitError(
            f"{annotations.video_id}: masklets have different lengths {lengths}; cannot write one JSON"
        )
    first_appeared = float if type == "manual" else int
    return {
        "video_id": annotations.video_id,
        "video_duration": float(annotations.duration),
        "video_frame_count": float(annotations.frame_count),
        "video_height": float(annotations.height),
        "video_width": float(annotations.width),
        "video_resolution": float(annotations.height * annotations.width),
        "video_environment": annotations.environment,
        "video_split": annotations.split,
        "masklet": [[m.rles[k] for m in masklets] for k in range(num_frames)],
        "masklet_id": [m.id for m in masklets],
        "masklet_size_rel": [m.size_rel for m in masklets],
        "masklet_size_abs": [m.size_abs for m in masklets],
        "masklet_size_bucket": [m.size_bucket for m in masklets],
        "masklet_visibility_changes": [m.visibility_changes for m in masklets],
        "masklet_first_appeared_frame": [first_appeared(m.first_appeared_frame) for m in masklets],
        "masklet_frame_count": [m.frame_count for m in masklets],
        "masklet_edited_frame_count": [m.edited_frame_count for m in masklets],
        "masklet_type": [m.type for m in masklets],
        "masklet_stability_score": _stability_layout(masklets, num_frames),
        "masklet_num": len(masklets),
    }


def _stability_layout(masklets: list[Masklet], num_frames: int) -> list:
    if not any(m.stability_score is not None for m in masklets):
        return [None] * len(masklets)
    return [
        [m.stability_score[k] if m.stability_score else None for m in masklets] for k in range(num_frames)
    ]


# ----------------------------------------------------------------------------------------------------- files


def read_sav_json(path: str | os.PathLike) -> VideoAnnotations:
    """Read one SA-V train JSON (one type); a truncated or malformed file is a SavkitError naming the field."""
    data = load_json(path)
    problems = sav_json_problems(data)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise SavkitError(
            f"{path}: field {first.field}: expected {first.expected}, found {first.found}{more}; "
            "run `savkit validate` on it"
        )
    return from_sav_dict(data)


def write_sav_json(path: str | os.PathLike, annotations: VideoAnnotations, type: str) -> None:
    """Write the ``type`` masklets of ``annotations`` as an SA-V JSON, atomically."""
    write_text_atomic(path, json.dumps(to_sav_dict(annotations, type)))


def parse_train_json_name(name: str) -> tuple[str, str] | None:
    """(video id, masklet type) of a train JSON file name ``{video_id}_{type}.json``, or None for another name."""
    for masklet_type in MASKLET_TYPES:
        suffix = f"_{masklet_type}.json"
        if name.endswith(suffix):
            return name.removesuffix(suffix), masklet_type
    return None


def find_train_jsons(
    source: str | os.PathLike | Iterable[str | os.PathLike], video_id: str
) -> dict[str, Path]:
    """The manual and auto JSON paths of ``video_id`` in a folder (searched recursively) or a list of paths."""
    names = {f"{video_id}_{t}.json": t for t in MASKLET_TYPES}
    if isinstance(source, (str, os.PathLike)) and Path(source).is_dir():
        candidates: Iterable[Path] = (p for name in names for p in sorted(Path(source).rglob(name)))
    elif isinstance(source, (str, os.PathLike)):
        candidates = [Path(source)]
    else:
        candidates = [Path(p) for p in source]
    found: dict[str, Path] = {}
    for path in candidates:
        if path.name in names:
            found.setdefault(names[path.name], path)
    return {t: found[t] for t in MASKLET_TYPES if t in found}


def read_train_video(
    source: str | os.PathLike | Iterable[str | os.PathLike], video_id: str
) -> VideoAnnotations:
    """Manual and auto annotations of one train video merged into one model (manual masklets first)."""
    paths = find_train_jsons(source, video_id)
    if not paths:
        raise SavkitError(
            f"video {video_id!r} not found: no {video_id}_manual.json or {video_id}_auto.json in {source}; "
            "check the video id and the folder"
        )
    manual_or_first, *others = paths.values()
    merged = read_sav_json(manual_or_first)
    for path in others:
        part = read_sav_json(path)
        if (part.video_id, part.height, part.width, part.frame_count) != (
            merged.video_id,
            merged.height,
            merged.width,
            merged.frame_count,
        ):
            raise SavkitError(f"{path}: video metadata differs from {manual_or_first}; run `savkit validate`")
        merged.masklets.extend(part.masklets)
    return merged
