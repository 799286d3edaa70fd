"""``savkit render PATH VIDEO_ID --out overlay.mp4|.gif``: the mask overlay of a whole video, streamed."""

from __future__ import annotations

import argparse
from pathlib import Path

from savkit.cli.progress import progress_bar
from savkit.cli.show import add_overlay_arguments, one_line_warnings, open_dataset, overlay_style

HELP = {"render": "draw the masks over a whole video (mp4 or GIF)"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help=HELP["render"],
        description=__doc__ + " At 24 fps each annotation is held over its 4 video frames; at 6 fps only the "
        "annotated frames are kept. Without the mp4 the masks are drawn on a neutral grey background (6 fps).",
    )
    add_overlay_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output video (.mp4 or .gif)")
    parser.add_argument(
        "--fps",
        type=int,
        choices=(24, 6),
        help="24: every frame, 6: annotated frames (default 24, 6 without mp4)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.viz import render_video

    dataset = open_dataset(args)
    with (
        one_line_warnings(args.command),
        progress_bar(f"render {args.video_id}", "frame", args.quiet) as progress,
    ):
        frames = render_video(
            dataset,
            args.video_id,
            args.out,
            fps=args.fps,
            type=args.type,
            ids=args.masklets,
            style=overlay_style(args),
            progress=progress,
        )
    print(f"wrote {args.out}: {frames} frames of {args.video_id}")
    return 0
