"""``savkit extract-frames``, ``export-masks``, ``import-masks``: dataset-scale conversions.

One task per video, in local processes or on a Dask cluster.

Every command prints a one-line summary (videos, files, bytes, seconds), lists failed videos with their reasons
on stderr and exits 1 if any video failed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from savkit.cli.options import add_run_options, run_options

if TYPE_CHECKING:
    from savkit.parallel import RunReport

HELP = {
    "extract-frames": "every mp4 under SRC -> OUT/{video_id}/{index:05d}.jpg (24 fps frame index)",
    "export-masks": "SA-V JSONs -> PNG masks (val/test layout or DAVIS)",
    "import-masks": "PNG masks (sav or DAVIS layout) -> one SA-V JSON per video",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    from savkit.annotations import MASKLET_TYPES
    from savkit.convert.frames import DEFAULT_QUALITY
    from savkit.convert.masks import LAYOUTS, TYPE_CHOICES

    frames = _add_command(
        subparsers,
        "extract-frames",
        _extract_frames,
        "Extract JPEG frames of every mp4 under SRC (recursively), named by their 24 fps frame index "
        "(00000, 00004, ... with --every 4, the val/test JPEGImages_24fps layout). Resumable.",
        src_help="folder searched recursively for .mp4 files (or one .mp4)",
    )
    frames.add_argument("--every", type=int, default=1, metavar="N", help="keep every N-th frame (default 1)")
    frames.add_argument(
        "--quality",
        type=int,
        default=DEFAULT_QUALITY,
        metavar="Q",
        help=f"JPEG quality 1-100 ({DEFAULT_QUALITY})",
    )

    export = _add_command(
        subparsers,
        "export-masks",
        _export_masks,
        "Write the masks of every {video_id}_{type}.json under SRC as PNGs: --layout sav gives "
        "OUT/{video_id}/{obj:03d}/{frame:05d}.png (0/255, the val/test Annotations_6fps layout), --layout davis "
        "one label PNG per annotated frame (DAVIS palette; where objects overlap the lowest object number wins, "
        "manual before auto). Resumable.",
        src_help="folder searched recursively for SA-V JSONs (or one JSON)",
    )
    export.add_argument("--type", choices=TYPE_CHOICES, default="manual", help="masklets to export (manual)")
    export.add_argument("--layout", choices=LAYOUTS, default="sav", help="PNG layout (sav)")

    imports = _add_command(
        subparsers,
        "import-masks",
        _import_masks,
        "Turn every video folder of SRC (object folders of 0/255 PNGs, or DAVIS label PNGs; named by "
        "24 fps frame index 00000, 00004, ...) into OUT/{video_id}_{type}.json with COCO RLE masklets. "
        "The video's frame count, duration and size come from its mp4 (--videos DIR, or SRC/{video_id}.mp4), "
        "else from its JPEG frames (--videos DIR/{video_id}/, or the val/test JPEGImages_24fps), else they are "
        "guessed from the masks; every guessed field is listed on stderr. Resumable.",
        src_help="folder holding one mask folder per video (or a val/test split root such as sav_val)",
    )
    imports.add_argument(
        "--type", choices=MASKLET_TYPES, default="manual", help="masklet type to write (manual)"
    )
    imports.add_argument(
        "--split",
        help="video_split stored in the JSONs (default: val/test from sav_val/sav_test, else unknown)",
    )
    imports.add_argument(
        "--videos",
        metavar="DIR",
        help="the videos: {video_id}.mp4 files (searched recursively) or {video_id}/ folders of JPEG frames",
    )


def _add_command(
    subparsers: argparse._SubParsersAction, name: str, func, description: str, src_help: str
) -> argparse.ArgumentParser:
    """A per-video command: SRC, OUT and the options every run shares (workers, scheduler, overwrite, quiet)."""
    parser = subparsers.add_parser(name, help=HELP[name], description=description)
    parser.add_argument("src", metavar="SRC", help=src_help)
    parser.add_argument("out", metavar="OUT", help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="redo videos already complete in OUT")
    add_run_options(parser)
    parser.set_defaults(func=func)
    return parser


@contextmanager
def _run_options(args: argparse.Namespace) -> Iterator[dict]:
    with run_options(args, "video") as options:
        yield {"overwrite": args.overwrite, **options}


def _extract_frames(args: argparse.Namespace) -> int:
    from savkit.convert.frames import extract_frames

    with _run_options(args) as options:
        report = extract_frames(args.src, args.out, args.every, args.quality, **options)
    return _finish(report, "frame", args.quiet)


def _export_masks(args: argparse.Namespace) -> int:
    from savkit.convert.masks import MaskStats, export_masks

    with _run_options(args) as options:
        report = export_masks(args.src, args.out, args.type, args.layout, **options)
    overlap = sum(stats.overlap_pixels for stats in report.results.values() if isinstance(stats, MaskStats))
    details = (
        f"; {overlap:,} overlapping pixels (lowest object number kept)" if args.layout == "davis" else ""
    )
    return _finish(report, "PNG", args.quiet, details)


def _import_masks(args: argparse.Namespace) -> int:
    from savkit.convert.masks import import_masks

    with _run_options(args) as options:
        report = import_masks(args.src, args.out, args.type, args.split, videos=args.videos, **options)
    code = _finish(report, "JSON file", args.quiet, _metadata_sources(report))
    _print_guesses(report, asked_for_videos=args.videos is not None)
    return code


def _metadata_sources(report: RunReport) -> str:
    """``; video metadata from: mp4 2, JPEG frames 1, masks 1`` for the videos imported in this run."""
    from savkit.convert.masks import ImportStats

    sources = Counter(
        stats.metadata_source
        for stats in report.results.values()
        if isinstance(stats, ImportStats) and not stats.skipped
    )
    return f"; video metadata from: {', '.join(f'{s} {n:,}' for s, n in sources.items())}" if sources else ""


def _print_guesses(report: RunReport, asked_for_videos: bool) -> None:
    """One note per guessed field (stderr, also with -q: no guess is silent), naming the first videos."""
    from savkit.convert.masks import guessed_fields

    guesses = guessed_fields(report)
    for guess, video_ids in guesses:
        shown = ", ".join(video_ids[:3]) + (f" and {len(video_ids) - 3:,} more" if len(video_ids) > 3 else "")
        videos = f"{len(video_ids):,} video{'s' if len(video_ids) > 1 else ''}"
        print(f"note: guessed {guess.field} for {videos} ({shown}): {guess.how}", file=sys.stderr)
    if not asked_for_videos and any(guess.field == "video_frame_count" for guess, _ in guesses):
        print(
            "note: pass --videos DIR (the mp4s, or folders of all their JPEG frames) to read frame counts "
            "and durations from the videos",
            file=sys.stderr,
        )


def _finish(report: RunReport, file_noun: str, quiet: bool, details: str = "") -> int:
    """Print the summary (stdout) and the failed videos (stderr); exit code 1 if any video failed."""
    from savkit.parallel import Summary

    if not quiet:
        print(Summary.of(report).describe(file_noun) + details)
    for video_id, reason in sorted(report.failures, key=lambda failure: str(failure[0])):
        print(f"failed: {video_id}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0
