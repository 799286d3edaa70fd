"""Options shared by the commands that run one task per item through :func:`savkit.parallel.run_tasks`."""

from __future__ import annotations

import argparse


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--workers``, ``--scheduler`` (where the tasks run) and ``-q`` (no progress bar, no summary)."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores; 1 = in-process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run on an existing Dask scheduler (tcp://host:8786)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


def run_options(args: argparse.Namespace) -> dict:
    """The keyword arguments the library's runners take for the options of :func:`add_run_options`."""
    return {"workers": args.workers, "scheduler": args.scheduler, "progress": not args.quiet}
