"""``savkit eval``: a drop-in for the official ``sav_evaluator.py`` (same flags), plus the protocols of DAVIS-2017,
MOSEv2, LVOS and VOST (``--protocol``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from savkit.eval import EvalReport

HELP = {"eval": "J&F of predicted masks against SA-V (or DAVIS-layout) ground truth"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from savkit.eval.protocols import PROTOCOLS
    from savkit.parallel import available_cores

    parser = subparsers.add_parser("eval", help=HELP["eval"], description=__doc__)
    parser.add_argument(
        "--gt_root", "--gt-root", required=True, help="GT folder, e.g. sav_val/Annotations_6fps"
    )
    parser.add_argument(
        "--pred_root", "--pred-root", required=True, help="predictions, with exactly the structure of gt_root"
    )
    parser.add_argument(
        "-n",
        "--num_processes",
        type=int,
        default=available_cores(),
        help="worker processes (default: cores)",
    )
    parser.add_argument("-s", "--strict", action="store_true", help="every GT video must have a prediction")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but warnings and errors")
    parser.add_argument(
        "--do_not_skip_first_and_last_frame",
        action="store_true",
        help="also score the first and the last annotated frames (SA-V val/test skip them)",
    )
    parser.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), default="sav", help="scoring rules (default: sav)"
    )
    parser.add_argument(
        "--meta", help="mosev2 / lvos: the dataset's meta JSON (MOSEv2 meta.json, LVOS valid_meta.json)"
    )
    parser.add_argument(
        "--unseen-list", help="lvos: the videos of unseen categories, one per line (lvos' unseen_videos.txt)"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="where results.csv/.json go (default: the prediction root)"
    )
    parser.add_argument("--json", type=Path, help="results JSON path (default: OUTPUT_DIR/results.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.eval import EvalOptions, evaluate
    from savkit.io.atomic import check_output_file, check_output_folder

    options = EvalOptions(
        protocol=args.protocol,
        strict=args.strict,
        skip_first_and_last=not args.do_not_skip_first_and_last_frame,
        num_processes=args.num_processes,
        meta=args.meta,
        unseen_list=args.unseen_list,
    )
    output_dir = args.output_dir or Path(args.pred_root)
    csv_path = output_dir / "results.csv"
    json_path = args.json or output_dir / "results.json"
    folder_flag = "--output-dir" if args.output_dir else "--pred_root"
    check_output_folder(output_dir, folder_flag)  # before the evaluation, which may take long
    check_output_file(csv_path, folder_flag)
    check_output_file(json_path, "--json" if args.json else folder_flag)
    progress = None if args.quiet else _progress_bar
    report = evaluate(args.gt_root, args.pred_root, options, progress=progress)
    report.write(csv_path, json_path)
    if not args.quiet:
        print(report.console_text(), end="")
        print(f"Saving the results to {csv_path} and {json_path}")
    print_warnings(report)
    return 0


def print_warnings(report: EvalReport) -> None:
    for message in report.warnings:
        print(f"warning: {message}", file=sys.stderr)


def _progress_bar(scores, total: int):
    from tqdm import tqdm

    return tqdm(scores, total=total, desc="eval", unit="obj", file=sys.stderr, dynamic_ncols=True)
