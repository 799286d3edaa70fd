"""``savkit show PATH VIDEO_ID --frame K --out frame.png``: the masks of annotated frame K over video frame 4K."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from savkit.dataset import Dataset
    from savkit.viz import OverlayStyle

HELP = {"show": "draw the masks of one annotated frame over its video frame (PNG/JPEG)"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "show",
        help=HELP["show"],
        description=__doc__ + " Without the mp4 the masks are drawn on a neutral grey background.",
    )
    add_overlay_arguments(parser)
    parser.add_argument(
        "--frame", type=int, required=True, metavar="K", help="annotated frame (video frame 4K)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output image (.png or .jpg)")
    parser.set_defaults(func=run)


def add_overlay_arguments(parser: argparse.ArgumentParser) -> None:
    """PATH, VIDEO_ID and the mask selection and style options shared by ``show`` and ``render``."""
    parser.add_argument(
        "path", type=Path, metavar="PATH", help="SA-V train folder (mp4 + JSON) or val/test folder"
    )
    parser.add_argument("video_id", metavar="VIDEO_ID", help="video id, e.g. sav_000001")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--manual", dest="type", action="store_const", const="manual", help="manual masklets only"
    )
    kind.add_argument("--auto", dest="type", action="store_const", const="auto", help="auto masklets only")
    parser.add_argument("--masklets", type=_id_list, metavar="IDS", help="only these masklet ids, e.g. 0,3")
    parser.add_argument("--alpha", type=float, default=0.5, help="fill opacity 0..1 (default 0.5)")
    parser.add_argument("--no-contours", dest="contours", action="store_false", help="do not draw contours")
    parser.add_argument("--no-labels", dest="labels", action="store_false", help="do not draw id labels")
    parser.add_argument(
        "--lenient", action="store_true", help="warn instead of failing when frame counts do not match"
    )


def overlay_style(args: argparse.Namespace) -> OverlayStyle:
    from savkit.viz import OverlayStyle

    return OverlayStyle(alpha=args.alpha, contours=args.contours, labels=args.labels)


def open_dataset(args: argparse.Namespace) -> Dataset:
    """The dataset at PATH; says on stderr when the masks will be drawn without the video."""
    from savkit.dataset import Dataset

    dataset = Dataset(args.path, lenient=args.lenient)
    if dataset.video_path(args.video_id) is None:
        print(
            f"savkit {args.command}: note: no video frames for {args.video_id} under {args.path}; "
            "drawing the masks on a neutral background",
            file=sys.stderr,
        )
    return dataset


@contextlib.contextmanager
def one_line_warnings(command: str) -> Iterator[None]:
    """``--lenient`` mismatch warnings as one stderr line each (others are shown as Python shows them)."""
    from savkit.dataset import FrameCountWarning

    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FrameCountWarning)
            yield
    finally:
        for warning in caught:
            if issubclass(warning.category, FrameCountWarning):
                print(f"savkit {command}: warning: {warning.message}", file=sys.stderr)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def run(args: argparse.Namespace) -> int:
    from savkit.annotations import FRAMES_PER_ANNOTATION
    from savkit.viz import overlay_frame, write_image

    dataset = open_dataset(args)
    with one_line_warnings(args.command):
        rgb = overlay_frame(
            dataset, args.video_id, args.frame, type=args.type, ids=args.masklets, style=overlay_style(args)
        )
    write_image(args.out, rgb)
    print(
        f"wrote {args.out}: {args.video_id} annotated frame {args.frame} (video frame {FRAMES_PER_ANNOTATION * args.frame})"
    )
    return 0


def _id_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated masklet ids like 0,3, got {text!r}"
        ) from None
