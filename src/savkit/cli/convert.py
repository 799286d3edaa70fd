"""``savkit extract-frames``: dataset-scale conversions, one task per video, local processes or a Dask cluster.

Every command prints a one-line summary (videos, files, bytes, seconds), lists failed videos with their reasons
on stderr and exits 1 if any video failed.
"""

from __future__ import annotations

import argparse
import sys

from savkit.convert.frames import DEFAULT_QUALITY, extract_frames
from savkit.parallel import RunReport, Summary


def register(subparsers: argparse._SubParsersAction) -> None:
    frames = subparsers.add_parser(
        "extract-frames",
        help="every mp4 under SRC -> OUT/{video_id}/{index:05d}.jpg (24 fps frame index)",
        description="Extract JPEG frames of every mp4 under SRC (recursively), named by their 24 fps frame index "
        "(00000, 00004, ... with --every 4, the val/test JPEGImages_24fps layout). Resumable.",
    )
    frames.add_argument("src", metavar="SRC", help="folder searched recursively for .mp4 files (or one .mp4)")
    frames.add_argument("out", metavar="OUT", help="output folder")
    frames.add_argument("--every", type=int, default=1, metavar="N", help="keep every N-th frame (default 1)")
    frames.add_argument(
        "--quality",
        type=int,
        default=DEFAULT_QUALITY,
        metavar="Q",
        help=f"JPEG quality 1-100 ({DEFAULT_QUALITY})",
    )
    _add_run_options(frames)
    frames.set_defaults(func=_extract_frames)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="local processes (default: cores)"
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on an existing Dask scheduler (tcp://host:8786)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo videos already complete in OUT")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def _run_options(args: argparse.Namespace) -> dict:
    return {
        "overwrite": args.overwrite,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.quiet,
    }


def _extract_frames(args: argparse.Namespace) -> int:
    report = extract_frames(args.src, args.out, args.every, args.quality, **_run_options(args))
    return _finish(report, "frames", args.quiet)


def _finish(report: RunReport, files_name: str, quiet: bool, details: str = "") -> int:
    """Print the summary (stdout) and the failed videos (stderr); exit code 1 if any video failed."""
    if not quiet:
        print(Summary.of(report).describe(files_name) + details)
    for video_id, reason in sorted(report.failures, key=lambda failure: str(failure[0])):
        print(f"failed: {video_id}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0
