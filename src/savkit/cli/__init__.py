"""The ``savkit`` command line: parses arguments, calls the library, prints, and sets the exit code.

Every command lives in its own module with a ``HELP`` dict (command name -> one-line help) and a
``register(subparsers)`` function that adds its parsers and sets ``func(args) -> int``. Bad input
(:class:`savkit.SavkitError`) becomes one line on stderr and exit code 2.

Start-up is kept short: the command modules import the heavy libraries (PyAV, OpenCV, pycocotools, pyarrow,
duckdb...) only inside ``register`` and the command functions, and only the module of the command being run
registers its full parser; the others add their one-line help for ``savkit --help``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import warnings

from savkit import __version__
from savkit.cli import (
    compare,
    convert,
    demo,
    download,
    eval_cmd,
    index,
    render,
    report,
    serve,
    show,
    validate,
)
from savkit.cli.failures import failure_line, tolerate_unencodable_output
from savkit.errors import SavkitError
from savkit.io.names import IgnoredEntriesWarning

DESCRIPTION = "savkit: the SA-V (Segment Anything Video) toolkit: exact fast J&F, typed annotations, streaming video, conversion at scale, a queryable index."

COMMANDS = [demo, eval_cmd, report, compare, convert, validate, index, show, render, serve, download]


def build_parser(command: str | None = None, *, every_command: bool = True) -> argparse.ArgumentParser:
    """The whole parser, or (``every_command=False``) only ``command``'s options and the others' help lines."""
    parser = argparse.ArgumentParser(prog="savkit", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"savkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        if every_command or command in module.HELP:
            module.register(subparsers)
        else:
            for name, help in module.HELP.items():
                subparsers.add_parser(name, help=help)
    return parser


def command_name(argv: list[str]) -> str | None:
    """The command of a command line: its first argument that is not an option (the top level has no values)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Run a command line: ``argv``, else the program's own arguments (then the process ends on return)."""
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(command_name(argv), every_command=False).parse_args(argv)
    if as_program:  # the process is savkit's own
        from savkit.io.memory import keep_freed_memory

        keep_freed_memory()
    try:
        return _run(args)
    finally:
        if as_program and getattr(args, "skip_exit_gc", False):
            # a command whose outputs are all closed when it returns skips the interpreter's final garbage
            # collection over every imported module (~25 ms of a short run; the memory goes back with the process)
            gc.freeze()


def _run(args: argparse.Namespace) -> int:
    tolerate_unencodable_output()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command, warnings.showwarning)
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
    # OSError, MemoryError, RecursionError, a library's error: one line (cli.failures); a bug: its traceback
    except Exception as exc:
        line = failure_line(exc)
        if line is None:
            raise
        print(f"savkit {args.command}: error: {line}", file=sys.stderr)
        return 2


def _one_line_warnings(command: str, show):
    """A ``warnings.showwarning`` printing the library's skipped-entries counts as one line, like other warnings."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, IgnoredEntriesWarning):
            print(f"savkit {command}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning
