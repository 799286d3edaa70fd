"""``savkit validate PATH...``: check SA-V JSON files, train folders and val/test folders; list the problems."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from savkit.cli.options import add_run_options, run_options

if TYPE_CHECKING:
    from savkit.validate import Problem

COLUMNS = ("level", "file", "field", "expected", "found")
HELP = {"validate": "check SA-V annotation JSONs, train folders and val/test folders"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help=HELP["validate"],
        description="Check SA-V annotation JSONs, train folders (mp4 + JSONs, recursively) and val/test folders; "
        "print a table of problems (file, field, expected, found). Exit code 1 if any error, 0 otherwise.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a JSON file, a train or a val/test folder"
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="report frame-count mismatches as warnings (damaged but usable files)",
    )
    add_run_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from savkit.validate import has_errors, validate_paths

    with run_options(args, "check") as options:
        problems = validate_paths(args.paths, lenient=args.lenient, **options)
    if problems:
        print(format_table(problems))
    if not args.quiet:
        print(summary(problems))
    return 1 if has_errors(problems) else 0


def format_table(problems: list[Problem]) -> str:
    """Aligned columns; the last column (found) is never padded or cut."""
    rows = [COLUMNS, *((p.severity, p.file, p.field, p.expected, p.found) for p in problems)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    )


def summary(problems: list[Problem]) -> str:
    from savkit.validate import ERROR

    errors = sum(p.severity == ERROR for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return "ok: no problems found"
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
