"""Options shared by the commands that run one task per item through :func:`savkit.parallel.run_tasks`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager

from savkit.cli.progress import progress_bar

# What a Dask scheduler address looks like: [scheme://]host:port (an IPv6 host in brackets).
_SCHEDULER_ADDRESS = re.compile(r"((tcp|tls|ws|wss|ucx)://)?(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):\d{1,5}")


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
        type=scheduler_address,
        metavar="ADDR",
        help="run on an existing Dask scheduler (tcp://host:8786)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")


@contextmanager
def run_options(args: argparse.Namespace, unit: str) -> Iterator[dict]:
    """The keyword arguments the library's runners take for the options of :func:`add_run_options`, with a
    progress bar counting ``unit`` (none with ``-q``), closed when the block ends."""
    with progress_bar(args.command, unit, args.quiet) as progress:
        yield {"workers": args.workers, "scheduler": args.scheduler, "progress": progress}


def scheduler_address(text: str) -> str:
    """A Dask scheduler address, checked before any work starts (Dask's own error would be a ValueError)."""
    if not _SCHEDULER_ADDRESS.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Dask scheduler address: pass [tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786"
        )
    return text
