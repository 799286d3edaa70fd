"""``savkit report RESULTS.json``: one self-contained HTML page (or a Markdown summary with PNG plots beside it)
showing where an evaluation went wrong: the distribution of per-object scores, scores by object size and by
length, the worst objects' per-frame J and F, and GT against prediction at their worst frames."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

HELP = {"report": "an HTML (or Markdown) report of a results.json written by savkit eval"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help=HELP["report"], description=__doc__)
    parser.add_argument("results", type=Path, metavar="RESULTS.json", help="a results.json of savkit eval")
    parser.add_argument(
        "--out", type=Path, help="output file (default: report.html or report.md beside RESULTS)"
    )
    parser.add_argument("--format", choices=("html", "md"), default="html", help="html (default) or md")
    parser.add_argument(
        "--gt_root", "--gt-root", type=Path, help="GT masks: show GT and prediction thumbnails"
    )
    parser.add_argument("--pred_root", "--pred-root", type=Path, help="the predicted masks (with --gt_root)")
    parser.add_argument("--worst", type=int, default=5, metavar="K", help="worst objects shown (default: 5)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.errors import SavkitError
    from savkit.report.build import build_report

    if (args.gt_root is None) != (args.pred_root is None):
        raise SavkitError(
            "--gt_root and --pred_root go together: give both to see GT and prediction thumbnails"
        )
    if args.worst < 0:
        raise SavkitError(f"--worst {args.worst}: give a count of 0 or more")
    out = args.out or args.results.parent / f"report.{args.format}"
    report = build_report(args.results, args.gt_root, args.pred_root, args.worst)
    if args.format == "html":
        write_html(out, report)
    else:
        write_markdown(out, report)
    if not args.quiet:
        print(f"wrote {out}")
    return 0


def write_html(out: Path, report) -> None:
    from savkit.io.atomic import write_text_atomic
    from savkit.report.html import report_html

    write_text_atomic(out, report_html(report))


def write_markdown(out: Path, report) -> None:
    """``out`` and its images in ``{stem}_files/``, all renamed into place together."""
    from savkit.io.atomic import atomic_paths
    from savkit.report.html import report_markdown

    image_dir = f"{out.stem}_files"
    text, images = report_markdown(report, image_dir)
    targets = [out, *(out.parent / image_dir / name for name in images)]
    with contextlib.ExitStack() as stack:
        paths = stack.enter_context(atomic_paths(*targets))
        paths[0].write_text(text, encoding="utf-8")
        for path, data in zip(paths[1:], images.values(), strict=True):
            path.write_bytes(data)
