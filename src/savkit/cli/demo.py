"""``savkit demo``: make a small SA-V-val-like set with imperfect predictions, evaluate it, show the results."""

from __future__ import annotations

import argparse
from pathlib import Path

from savkit.cli.eval_cmd import print_warnings

HELP = {"demo": "generate a small SA-V-like set and evaluate it"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help=HELP["demo"], description=__doc__)
    parser.add_argument(
        "--out", type=Path, default=Path("savkit-demo"), help="output folder (default: ./savkit-demo)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the generated set")
    parser.add_argument("-n", "--num_processes", type=int, default=1, help="worker processes")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but warnings and errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.demo import DemoSpec, make_demo_set
    from savkit.eval import EvalOptions, evaluate
    from savkit.io.atomic import check_output_folder

    check_output_folder(args.out, "--out")
    demo = make_demo_set(args.out, DemoSpec(seed=args.seed))
    report = evaluate(demo.gt_root, demo.pred_root, EvalOptions(num_processes=args.num_processes))
    report.write(args.out / "results.csv", args.out / "results.json")
    report_line = write_demo_report(args.out, demo.gt_root, demo.pred_root)
    if not args.quiet:
        print(report.console_text(), end="")
    print_warnings(report)
    if args.quiet:
        return 0
    print(f"\nGT masks:    {demo.gt_root}")
    print(f"predictions: {demo.pred_root}")
    print(f"results:     {args.out / 'results.csv'}, {args.out / 'results.json'}")
    print(report_line)
    print(f"evaluate it yourself: savkit eval --gt_root {demo.gt_root} --pred_root {demo.pred_root}")
    return 0


def write_demo_report(out: Path, gt_root: Path, pred_root: Path) -> str:
    """Write the demo's HTML report when matplotlib (the ``report`` extra) is there; the line to print."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "report:      pip install 'savkit[report]' for an HTML report (savkit report)"
    from savkit.cli.report import write_html
    from savkit.report.build import build_report

    write_html(out / "report.html", build_report(out / "results.json", gt_root, pred_root))
    return f"report:      {out / 'report.html'} (open it in a browser)"
