"""Check SA-V files and folders against the dataset's format, and list every problem found.

Inputs: annotation JSONs, train folders (``*.mp4`` + ``{id}_manual.json`` / ``{id}_auto.json``, found
recursively) and val/test folders (``Annotations_6fps`` + ``JPEGImages_24fps``). Checks stay cheap: JSON
masks are never decoded (metadata is recomputed from RLE areas), mp4 frames are counted by demuxing
packets; only val/test PNGs are decoded, since "binary" and "size" need their pixels.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from savkit.annotations import (
    MASKLET_TYPES,
    VideoAnnotations,
    annotated_frame_count,
    metadata_mismatches,
    rle,
)
from savkit.annotations.sav_json import from_sav_dict, load_json, parse_train_json_name, sav_json_problems
from savkit.annotations.valtest import (
    ANNOTATIONS_DIR,
    JPEG_DIR,
    annotated_frame_of,
    jpeg_frames,
    jpeg_size,
    subfolders,
    valtest_dirs,
)
from savkit.errors import SavkitError
from savkit.io.names import ignored_message, is_ignored_name, split_ignored, visible_entries
from savkit.io.png import read_png
from savkit.io.video import VideoReader
from savkit.parallel import run_tasks
from savkit.progress import ProgressCallback

ERROR, WARNING = "error", "warning"
PROGRESS_MIN_CHECKS = 10  # below this a bar would only flash


@dataclass(frozen=True)
class Problem:
    """One finding: where (file, field), what the format expects, what the file has, and how bad it is."""

    file: str
    field: str
    expected: str
    found: str
    severity: str = ERROR


@dataclass(frozen=True)
class Check:
    """One unit of work (a JSON file, a video, a video list): ``func(*args)`` lists the problems of ``file``."""

    file: str
    func: Callable[..., list[Problem]]
    args: tuple = ()

    def __call__(self) -> list[Problem]:
        return self.func(*self.args)


def validate_paths(
    paths: Iterable[str | os.PathLike],
    *,
    lenient: bool = False,
    workers: int | None = 1,
    scheduler: object = None,
    progress: ProgressCallback | None = None,
) -> list[Problem]:
    """Every problem in ``paths`` (JSON files, train folders, val/test folders), in path order.

    ``lenient`` reports frame-count mismatches (JSON vs mp4, annotated frames vs frames) as warnings. Checks
    run one per video through :func:`savkit.parallel.run_tasks` (``workers`` processes or a Dask
    ``scheduler``, each finished check reported to ``progress``); a check that crashes becomes an error row of its file.
    """
    checks = [check for path in paths for check in _plan(Path(path), lenient)]
    report = run_tasks(
        _run_check,
        checks,
        workers=workers,
        scheduler=scheduler,
        progress=progress if len(checks) >= PROGRESS_MIN_CHECKS else None,
        key=id,
    )
    failures = dict(report.failures)
    problems = []
    for check in checks:
        if id(check) in failures:
            problems.append(Problem(check.file, "(check)", "a check that completes", failures[id(check)]))
        else:
            problems += report.results[id(check)]
    return problems


def _run_check(check: Check) -> list[Problem]:
    return check()


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(problem.severity == ERROR for problem in problems)


def _plan(path: Path, lenient: bool) -> list[Check]:
    """One check per JSON file or per video, so that a progress bar can count them."""
    if not path.exists():
        return [_planned_problem(str(path), "(path)", "an existing file or folder", "not found")]
    if path.is_file():
        if path.suffix != ".json":
            return [_planned_problem(str(path), "(path)", "a .json file or a folder", path.suffix)]
        return [Check(str(path), _check_json_file, (path, lenient))]
    if path.parent.name == ANNOTATIONS_DIR:  # one val/test video
        return [Check(str(path), _check_valtest_video, (path, valtest_dirs(path.parent)[1] / path.name))]
    if path.name == ANNOTATIONS_DIR or (path / ANNOTATIONS_DIR).is_dir() or (path / JPEG_DIR).is_dir():
        return _plan_valtest(path)
    return _plan_train(path, lenient)


def _planned_problem(file: str, field: str, expected: str, found: str) -> Check:
    """A problem seen while planning, as a check so that it keeps its place in the report."""
    return Check(file, _single, (Problem(file, field, expected, found),))


def _single(problem: Problem) -> list[Problem]:
    return [problem]


def _frame_count_severity(lenient: bool) -> str:
    return WARNING if lenient else ERROR


def _more(count: int) -> str:
    return f" (+{count - 1} more)" if count > 1 else ""


def _reported_once(
    file: str, field: str, expected: str, findings: list[str], severity: str = ERROR
) -> list[Problem]:
    """A problem repeated over many items (frames, videos, names) as one row: the first finding and a count."""
    return [Problem(file, field, expected, findings[0] + _more(len(findings)), severity)] if findings else []


# ------------------------------------------------------------------------------------------- train JSON files


def _check_json(path: Path, lenient: bool) -> tuple[list[Problem], VideoAnnotations | None]:
    """Problems of one annotation JSON, and its model when the schema is sound enough to build it."""
    file = str(path)
    try:
        data = load_json(path)
    except SavkitError as exc:
        return [Problem(file, "(file)", "valid JSON", str(exc).removeprefix(f"{path}: "))], None
    schema = [Problem(file, p.field, p.expected, p.found) for p in sav_json_problems(data)]
    if schema:
        return schema, None
    annotations = from_sav_dict(data)
    problems = [
        *_name_problems(path, annotations),
        *_consistency_problems(file, data, annotations, lenient),
        *_rle_counts_problems(file, data["masklet"]),
        *_metadata_problems(file, annotations),
    ]
    return problems, annotations


def _check_json_file(path: Path, lenient: bool) -> list[Problem]:
    return _check_json(path, lenient)[0]


def _name_problems(path: Path, annotations: VideoAnnotations) -> list[Problem]:
    """A train JSON is named ``{video_id}_{type}.json`` and holds masklets of that type only."""
    parsed = parse_train_json_name(path.name)
    if parsed is None:
        expected = f"{annotations.video_id}_manual.json or {annotations.video_id}_auto.json"
        return [Problem(str(path), "(file name)", expected, path.name, WARNING)]
    name_id, file_type = parsed
    problems = []
    if name_id != annotations.video_id:
        problems.append(Problem(str(path), "video_id", name_id, annotations.video_id))
    other = [j for j, m in enumerate(annotations.masklets) if m.type != file_type]
    if other:
        found = annotations.masklets[other[0]].type + _more(len(other))
        problems.append(Problem(str(path), f"masklet_type[{other[0]}]", file_type, found))
    return problems


def _consistency_problems(
    file: str, data: dict, annotations: VideoAnnotations, lenient: bool
) -> list[Problem]:
    """Fields that must agree with each other: resolution, unique ids, frame counts, auto edit counts."""
    problems = []
    resolution = annotations.height * annotations.width
    if data["video_resolution"] != resolution:
        problems.append(
            Problem(file, "video_resolution", f"{resolution} (height x width)", str(data["video_resolution"]))
        )
    ids = [m.id for m in annotations.masklets]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        problems.append(Problem(file, "masklet_id", "unique ids", f"repeated {repeated}"))
    expected_frames = annotated_frame_count(annotations.frame_count)
    if len(data["masklet"]) != expected_frames:
        problems.append(
            Problem(
                file,
                "masklet length",
                f"{expected_frames} annotated frames (ceil(video_frame_count {annotations.frame_count} / 4))",
                str(len(data["masklet"])),
                _frame_count_severity(lenient),
            )
        )
    edited = [j for j, m in enumerate(annotations.masklets) if m.type == "auto" and m.edited_frame_count != 0]
    if edited:
        found = f"{annotations.masklets[edited[0]].edited_frame_count}{_more(len(edited))}"
        problems.append(Problem(file, f"masklet_edited_frame_count[{edited[0]}]", "0 (auto masklet)", found))
    return problems


def _rle_counts_problems(file: str, frames: list[list[dict]]) -> list[Problem]:
    """RLE runs that do not exactly cover the mask size (a cut or corrupt ``counts`` string); reported once."""
    corrupt = rle.first_corrupt(frames)
    if corrupt is None:
        return []
    return [Problem(file, corrupt.field, "runs covering height x width pixels", corrupt.found)]


def _metadata_problems(file: str, annotations: VideoAnnotations) -> list[Problem]:
    """Stored masklet metadata against the values recomputed from the RLE areas (no decoding)."""
    resolution = annotations.height * annotations.width
    return [
        Problem(
            file,
            f"masklet_{mismatch.field}[{j}]",
            f"{mismatch.recomputed} (recomputed)",
            str(mismatch.stored),
        )
        for j, masklet in enumerate(annotations.masklets)
        for mismatch in metadata_mismatches(masklet, resolution)
    ]


# ----------------------------------------------------------------------------------------------- train folders


def _plan_train(folder: Path, lenient: bool) -> list[Check]:
    """One check per video: an mp4 and its ``{id}_manual/auto.json`` in one folder, found recursively."""
    videos: dict[tuple[Path, str], dict[str, Path]] = defaultdict(dict)
    paths, ignored = split_ignored(sorted(folder.rglob("*")), folder)
    for path in paths:
        if path.suffix == ".mp4":
            videos[path.parent, path.stem]["mp4"] = path
        if parsed := parse_train_json_name(path.name):
            video_id, masklet_type = parsed
            videos[path.parent, video_id][masklet_type] = path
    if not videos:
        return [_planned_problem(str(folder), "(folder)", "SA-V mp4 and JSON files", "none found")]
    return _ignored_check(folder, ignored) + [
        Check(str(parent / video_id), _check_train_video, (parent, video_id, files, lenient))
        for (parent, video_id), files in sorted(videos.items())
    ]


def _ignored_check(folder: Path, ignored: int) -> list[Check]:
    """A warning row counting the hidden or system entries a discovery skipped (none when there were none)."""
    return [Check(str(folder), _single, (_ignored_problem(folder, ignored),))] if ignored else []


def _ignored_problem(folder: Path, ignored: int) -> Problem:
    return Problem(str(folder), "(ignored)", "data only", ignored_message(ignored, "").strip(), WARNING)


def _check_train_video(folder: Path, video_id: str, files: dict[str, Path], lenient: bool) -> list[Problem]:
    """A train video: its JSONs, manual and auto agreeing, and the mp4 against them."""
    problems = []
    models = {}
    for masklet_type in MASKLET_TYPES:
        if masklet_type in files:
            found, model = _check_json(files[masklet_type], lenient)
            problems += found
            if model is not None:
                models[masklet_type] = model
    if "manual" not in files:
        problems.append(Problem(str(folder / f"{video_id}_manual.json"), "(file)", "present", "missing"))
    if len(models) == 2:
        problems += _video_field_differences(files["auto"], models["manual"], models["auto"])
    mp4 = files.get("mp4")
    if mp4 is None:
        problems.append(Problem(str(folder / f"{video_id}.mp4"), "(file)", "present", "missing"))
    elif models:
        problems += _mp4_problems(mp4, next(iter(models.values())), lenient)
    return problems


# model attribute -> JSON field, for the video fields that the manual and the auto JSON share
VIDEO_JSON_FIELDS = {
    "video_id": "video_id",
    "split": "video_split",
    "duration": "video_duration",
    "frame_count": "video_frame_count",
    "height": "video_height",
    "width": "video_width",
    "environment": "video_environment",
}


def _video_field_differences(
    auto_path: Path, manual: VideoAnnotations, auto: VideoAnnotations
) -> list[Problem]:
    return [
        Problem(
            str(auto_path),
            field,
            f"{getattr(manual, name)} (as in the manual JSON)",
            str(getattr(auto, name)),
        )
        for name, field in VIDEO_JSON_FIELDS.items()
        if getattr(manual, name) != getattr(auto, name)
    ]


def _mp4_problems(mp4: Path, annotations: VideoAnnotations, lenient: bool) -> list[Problem]:
    """The mp4 opens, has the annotated size, and as many frames as the JSON says."""
    file = str(mp4)
    try:
        with VideoReader(mp4) as reader:
            frames, size = reader.count_frames(), (reader.height, reader.width)
    except SavkitError as exc:
        return [Problem(file, "(file)", "a readable video", str(exc).removeprefix(f"{mp4}: "))]
    problems = []
    if size != (annotations.height, annotations.width):
        problems.append(
            Problem(
                file,
                "height x width",
                f"{annotations.height} x {annotations.width} (JSON)",
                f"{size[0]} x {size[1]}",
            )
        )
    severity = _frame_count_severity(lenient)
    if frames != annotations.frame_count:
        problems.append(
            Problem(
                file, "frame count", f"{annotations.frame_count} (video_frame_count)", str(frames), severity
            )
        )
    expected_annotated = annotated_frame_count(frames)
    if annotations.num_annotated_frames != expected_annotated:
        problems.append(
            Problem(
                file,
                "annotated frames",
                f"{expected_annotated} (ceil({frames} mp4 frames / 4))",
                f"{annotations.num_annotated_frames} (len(masklet))",
                severity,
            )
        )
    return problems


# ------------------------------------------------------------------------------------------- val/test folders


def _plan_valtest(path: Path) -> list[Check]:
    """One check per video folder of ``Annotations_6fps``, plus the split's video list if there is one."""
    annotations_dir, jpeg_root = valtest_dirs(path.parent if path.name == ANNOTATIONS_DIR else path)
    if not annotations_dir.is_dir():
        return [_planned_problem(str(annotations_dir), "(folder)", "present", "missing")]
    video_ids = [p.name for p in subfolders(annotations_dir)]
    checks = _ignored_check(annotations_dir, visible_entries(annotations_dir)[1]) + [
        Check(
            str(annotations_dir / video_id),
            _check_valtest_video,
            (annotations_dir / video_id, jpeg_root / video_id),
        )
        for video_id in video_ids
    ]
    video_list = annotations_dir.parent / f"{annotations_dir.parent.name}.txt"
    if video_list.is_file():
        checks.append(Check(str(video_list), _video_list_problems, (video_list, video_ids)))
    return checks


def _video_list_problems(video_list: Path, video_ids: list[str]) -> list[Problem]:
    """``sav_val.txt`` names exactly the videos that have annotations."""
    listed = video_list.read_text().split()
    missing = [f"none for {video_id}" for video_id in sorted(set(listed) - set(video_ids))]
    unlisted = [f"{video_id} not listed" for video_id in sorted(set(video_ids) - set(listed))]
    file = str(video_list)
    return [
        *_reported_once(file, "video ids", f"a folder in {ANNOTATIONS_DIR}", missing),
        *_reported_once(file, "video ids", "every annotated video listed", unlisted, WARNING),
    ]


def _check_valtest_video(video_dir: Path, jpeg_dir: Path) -> list[Problem]:
    """Object folders named by id, PNGs on the same annotated frames, binary, of the JPEG size, with a JPEG each."""
    ignored = visible_entries(video_dir)[1]
    problems = []
    objects: dict[Path, list[int]] = {}
    for folder in subfolders(video_dir):
        if not folder.name.isdigit():
            problems.append(
                Problem(str(folder), "(folder name)", "an object id (000, 001, ...)", folder.name)
            )
            continue
        frames, bad_names = _annotated_frames(folder)
        ignored += visible_entries(folder)[1]
        objects[folder] = frames
        expected = "{frame:05d}.png with frame a multiple of 4"
        problems += _reported_once(str(folder), "(file name)", expected, bad_names)
    if ignored:
        problems.append(_ignored_problem(video_dir, ignored))
    if not objects:
        return [
            *problems,
            Problem(str(video_dir), "(folder)", "object folders 000, 001, ...", "none", WARNING),
        ]
    problems += _frame_coverage_problems(objects)
    jpeg_size, jpeg_problems = _jpeg_size(
        jpeg_dir, sorted({f for frames in objects.values() for f in frames})
    )
    problems += jpeg_problems
    for folder, frames in objects.items():
        problems += _png_problems(folder, frames, jpeg_size)
    return problems


def _annotated_frames(folder: Path) -> tuple[list[int], list[str]]:
    """Frame indices of an object's PNGs, and the PNG names that are not an annotated frame index."""
    frames, bad_names = [], []
    for png in sorted(folder.glob("*.png")):
        if is_ignored_name(png.name):
            continue
        frame = annotated_frame_of(png)
        if frame is None:
            bad_names.append(png.name)
        else:
            frames.append(frame)
    return frames, bad_names


def _frame_coverage_problems(objects: dict[Path, list[int]]) -> list[Problem]:
    """Every object folder of a video has a PNG on every annotated frame of the video."""
    all_frames = sorted({f for frames in objects.values() for f in frames})
    expected = f"the {len(all_frames)} annotated frames of the other objects"
    return [
        problem
        for folder, frames in objects.items()
        for problem in _reported_once(
            str(folder),
            "frames",
            expected,
            [f"no {f:05d}.png" for f in sorted(set(all_frames) - set(frames))],
        )
    ]


def _jpeg_size(jpeg_dir: Path, frames: list[int]) -> tuple[tuple[int, int] | None, list[Problem]]:
    """(height, width) of the video's first JPEG, and problems: no JPEG folder, annotated frames without JPEG."""
    if not jpeg_dir.is_dir():
        return None, [Problem(str(jpeg_dir), "(folder)", "present", "missing")]
    missing = [f"no {f:05d}.jpg" for f in frames if not (jpeg_dir / f"{f:05d}.jpg").is_file()]
    problems = _reported_once(str(jpeg_dir), "frames", "a JPEG for every annotated frame", missing)
    first = next(iter(jpeg_frames(jpeg_dir)), None)
    if first is None:
        return None, problems
    try:
        return jpeg_size(first), problems
    except SavkitError as exc:
        found = str(exc).removeprefix(f"{first}: ")
        return None, [*problems, Problem(str(first), "(file)", "a readable JPEG", found)]


def _png_problems(folder: Path, frames: list[int], jpeg_size: tuple[int, int] | None) -> list[Problem]:
    """Each PNG decodes, is binary (one non-zero value at most) and has the JPEG size; reported once per object."""
    unreadable, not_binary, wrong_size = [], [], []
    for frame in frames:
        png = folder / f"{frame:05d}.png"
        try:
            mask = read_png(png)
        except SavkitError as exc:
            unreadable.append((png.name, str(exc).removeprefix(f"{png}: ")))
            continue
        inside = mask[mask != 0]
        if inside.size and np.any(inside != inside[0]):
            not_binary.append((png.name, f"values {np.unique(mask).tolist()[:6]}"))
        if jpeg_size is not None and mask.shape != jpeg_size:
            wrong_size.append((png.name, f"{mask.shape[0]} x {mask.shape[1]}"))
    checks = [
        (unreadable, "(file)", "a readable single-channel PNG"),
        (not_binary, "binary", "0 and one mask value"),
        (wrong_size, "height x width", f"{jpeg_size[0]} x {jpeg_size[1]} (JPEG)" if jpeg_size else ""),
    ]
    return [
        Problem(str(folder / found[0][0]), field, expected, found[0][1] + _more(len(found)))
        for found, field, expected in checks
        if found
    ]
