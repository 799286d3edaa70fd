"""The ``savkit`` command line: parses arguments, calls the library, prints, and sets the exit code.

Every command lives in its own module with a ``register(subparsers)`` function that adds its parser and sets
``func(args) -> int``. Bad input (:class:`savkit.SavkitError`) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from savkit import __version__
from savkit.cli import convert, demo, eval_cmd, index, render, show, validate
from savkit.errors import SavkitError

DESCRIPTION = "savkit: the SA-V (Segment Anything Video) toolkit: exact fast J&F, typed annotations, streaming video, conversion at scale, a queryable index."

COMMANDS = [demo, eval_cmd, convert, validate, index, show, render]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="savkit", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"savkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SavkitError as exc:
        print(f"savkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"savkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `savkit stats INDEX | head`: the reader left, nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
