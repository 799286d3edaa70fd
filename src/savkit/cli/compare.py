"""``savkit compare A.json B.json``: two runs of savkit eval on the same objects, B minus A: the global difference
with a paired bootstrap 95% confidence interval and a sign test, and the objects that improved and regressed
most. Optionally an HTML page (``--out``) and the same as JSON (``--json``)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = {"compare": "compare two results.json per object: difference, confidence interval, sign test"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare", help=HELP["compare"], description=__doc__)
    parser.add_argument("a", type=Path, metavar="A.json", help="the baseline results.json")
    parser.add_argument("b", type=Path, metavar="B.json", help="the results.json compared with it")
    parser.add_argument("--out", type=Path, help="also write an HTML page (e.g. compare.html)")
    parser.add_argument("--json", type=Path, help="also write the comparison as JSON")
    parser.add_argument("--top", type=int, default=5, help="objects listed as most improved/regressed")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from savkit.io.atomic import write_texts_atomic
    from savkit.report.compare import compare_results

    comparison = compare_results(args.a, args.b)
    outputs: dict[Path, str] = {}
    if args.out is not None:
        from savkit.report.html import compare_html

        outputs[args.out] = compare_html(comparison)
    if args.json is not None:
        outputs[args.json] = json.dumps(comparison.to_json(), indent=1) + "\n"
    if outputs:
        write_texts_atomic(outputs)
    if not args.quiet:
        print(comparison.console_text(args.top), end="")
        for path in outputs:
            print(f"wrote {path}")
    return 0
