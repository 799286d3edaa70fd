"""``savkit download LINKS OUT``: the SA-V tars fetched, verified and unpacked into the layout every tool expects.

Draws one bar for the total (bytes, MB/s, ETA) and one per active file from the library's progress callbacks,
prints a summary and the failed files with their reasons, and exits 1 if any file failed or the links expired.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

    from savkit.download import DownloadReport

HELP = {"download": "fetch, verify and unpack SA-V from the links file of its download page"}


def register(subparsers: argparse._SubParsersAction) -> None:
    from savkit.download import DEFAULT_WORKERS

    parser = subparsers.add_parser(
        "download",
        help=HELP["download"],
        description="Fetch the files of an SA-V links file (from the download page: file_name<TAB>cdn_link), verify "
        "their SHA-256 (else MD5) while they arrive, and unpack the tars into OUT/sav_train/sav_NNN, OUT/sav_val, "
        "OUT/sav_test. Resumable (Range requests, also after a kill) and idempotent: a re-run does only what is "
        "missing.",
    )
    parser.add_argument("links", metavar="LINKS", help="the links file: a path or an http(s):// URL")
    parser.add_argument("out", metavar="OUT", help="output folder")
    parser.add_argument(
        "--only",
        metavar="SELECTION",
        help="train, val, test, checksums, or file names (sav_003,sav_val); comma-separated (default: everything)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"files fetched in parallel ({DEFAULT_WORKERS})",
    )
    parser.add_argument("--keep-tars", action="store_true", help="keep each tar in OUT after unpacking it")
    parser.add_argument("--no-extract", action="store_true", help="only fetch and verify (tars kept in OUT)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no summary")
    # its files are written unbuffered or closed by context managers, its threads joined: nothing is left to the
    # interpreter's final garbage collection
    parser.set_defaults(func=_download, skip_exit_gc=True)


def _download(args: argparse.Namespace) -> int:
    from savkit.download import download

    bars = None if args.quiet else _Bars()
    try:
        report = download(
            args.links,
            args.out,
            only=args.only,
            workers=args.workers,
            keep_tars=args.keep_tars,
            extract=not args.no_extract,
            progress=bars,
        )
    finally:
        if bars is not None:
            bars.close()
    return _finish(report, args.quiet)


def _finish(report: DownloadReport, quiet: bool) -> int:
    """Summary on stdout; failures, warnings and expired links on stderr; exit code 1 unless everything is there."""
    if not quiet:
        print(
            f"{report.count('done')} files done, {report.count('skipped')} skipped (already complete), "
            f"{report.count('failed')} failed, {report.count('stopped')} not finished; "
            f"{report.fetched_bytes / 1e6:,.1f} MB fetched in {report.seconds:.1f} s"
        )
    if quiet:  # the bars showed them as they came
        for message in report.warnings:
            print(f"savkit download: warning: {message}", file=sys.stderr)
    for result in report.files:
        if result.status in ("failed", "stopped"):
            print(f"{result.status}: {result.name}: {result.reason}", file=sys.stderr)
    if report.expired:
        print(f"savkit download: {report.expired}", file=sys.stderr)
    return 0 if report.ok else 1


class _Bars:
    """tqdm bars on stderr: the total (position 0) and one per file being fetched below it.

    Implements every method of :class:`savkit.download.DownloadProgress` (not subclassed, so that other commands
    start without importing the HTTP client)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total: tqdm | None = None
        self.files: dict[str, tqdm] = {}
        self.free_rows: list[int] = []

    def planned(self, files: int, total_bytes: int, done_bytes: int) -> None:
        if not files:  # everything was complete: the summary says so
            return
        with self.lock:
            self.total = _bar(f"total ({files} files)", total_bytes, done_bytes, position=0, leave=True)

    def file_started(self, name: str, size: int | None, done: int) -> None:
        with self.lock:
            if name in self.files:
                self.files[name].reset(total=size)
                self.files[name].update(done)
                return
            row = self.free_rows.pop(0) if self.free_rows else len(self.files) + 1
            self.files[name] = _bar(name, size, done, position=row, leave=False)

    def advanced(self, name: str, count: int) -> None:
        with self.lock:
            if self.total is not None:
                self.total.update(count)
            if name in self.files:
                self.files[name].update(count)

    def file_ended(self, name: str) -> None:
        with self.lock:
            bar = self.files.pop(name, None)
            if bar is not None:
                self.free_rows.append(bar.pos if isinstance(bar.pos, int) else abs(bar.pos))
                self.free_rows.sort()
                bar.close()

    def warned(self, message: str) -> None:
        from tqdm import tqdm

        with self.lock:
            tqdm.write(f"savkit download: warning: {message}", file=sys.stderr)

    def close(self) -> None:
        with self.lock:
            for bar in self.files.values():
                bar.close()
            if self.total is not None:
                self.total.close()


def _bar(label: str, total: int | None, initial: int, position: int, leave: bool) -> tqdm:
    from tqdm import tqdm

    return tqdm(
        total=total or None,
        initial=initial,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        position=position,
        leave=leave,
        dynamic_ncols=True,
        file=sys.stderr,
    )
