"""``savkit index`` / ``stats`` / ``query``: build a Parquet index of a dataset, summarise it, query it with SQL.

``savkit.index`` (pyarrow, duckdb) is imported when a command runs, so the other commands work without the
``index`` extra.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator

from savkit.cli.options import add_run_options, run_options

HELP = {
    "index": "build or update a Parquet index of every annotation file under ROOT",
    "stats": "dataset statistics from an index",
    "query": "SQL (DuckDB) over the index tables `videos` and `masklets`",
}
INDEX_DIR_HELP = "folder written by `savkit index ROOT --out INDEX_DIR`"


def register(subparsers: argparse._SubParsersAction) -> None:
    index = subparsers.add_parser(
        "index",
        help=HELP["index"],
        description="Index train JSONs and val/test Annotations_6fps folders under ROOT (masks are not decoded); "
        "a re-run reads only new or changed files. Exit 1 if some files could not be read (they are listed).",
    )
    index.add_argument("root", metavar="ROOT", help="dataset root (searched recursively)")
    index.add_argument("--out", required=True, metavar="INDEX_DIR", help="folder of the index tables")
    add_run_options(index)
    index.set_defaults(func=run_index)

    stats = subparsers.add_parser(
        "stats", help=HELP["stats"], description="Per-split counts and distributions."
    )
    stats.add_argument("index_dir", metavar="INDEX_DIR", help=INDEX_DIR_HELP)
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    stats.set_defaults(func=run_stats)

    query = subparsers.add_parser(
        "query",
        help=HELP["query"],
        description="Run one SELECT over the views videos and masklets; print the first rows.",
    )
    query.add_argument("index_dir", metavar="INDEX_DIR", help=INDEX_DIR_HELP)
    query.add_argument(
        "sql", metavar="SQL", help="e.g. \"SELECT video_id FROM masklets WHERE type = 'manual'\""
    )
    query.add_argument("--csv", metavar="OUT_CSV", help="write the whole result as CSV")
    query.add_argument(
        "--video-list", metavar="OUT_TXT", help="write the distinct video_id values, one per line"
    )
    query.set_defaults(func=run_query)


def run_index(args: argparse.Namespace) -> int:
    from savkit.index import build_index
    from savkit.io.names import ignored_message

    with _sigterm_as_interrupt(), run_options(args, "file") as options:
        report = build_index(args.root, args.out, **options)
    for duplicate in report.duplicates:
        print(
            f"savkit index: warning: {duplicate.video_id} ({duplicate.type}) found twice under {args.root}: "
            f"{duplicate.kept} and {duplicate.skipped}; indexed the first only (remove or move the other copy)",
            file=sys.stderr,
        )
    if report.ignored:
        print(
            f"savkit index: warning: {ignored_message(report.ignored, f'under {args.root}')}", file=sys.stderr
        )
    if not args.quiet:
        unchanged = report.sources - len(report.read)
        print(
            f"indexed {report.videos:,} videos, {report.masklets:,} masklets from {report.sources:,} sources "
            f"({len(report.read):,} read, {unchanged:,} unchanged, {len(report.removed):,} removed) "
            f"in {report.seconds:.1f} s -> {report.index_dir}"
        )
    if report.failures:
        print(f"skipped {len(report.failures)} unreadable source(s):", file=sys.stderr)
        for path, reason in report.failures:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a batch system's stop, ``kill``) ends the index like Ctrl-C: what was read so far is saved."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_stats(args: argparse.Namespace) -> int:
    from savkit.index import index_stats

    stats = index_stats(args.index_dir)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    splits = [*stats["splits"], {"split": "total", **stats["total"]}]
    duration = stats["duration"]
    sections = [
        ("", splits, ["split", "videos", "masklets", "manual", "auto"]),
        ("masklets by size bucket", stats["size_buckets"], ["size_bucket", "manual", "auto", "total"]),
        ("masklets by visibility changes", stats["visibility_changes"], ["bin", "manual", "auto", "total"]),
        ("videos by environment", stats["environments"], ["environment", "videos"]),
        ("videos by duration", duration["bins"], ["bin", "videos"]),
    ]
    print("\n\n".join(_section(title, rows, columns) for title, rows, columns in sections))
    if duration["min_s"] is not None:
        print(
            f"duration: min {duration['min_s']:.1f} s, median {duration['median_s']:.1f} s, "
            f"mean {duration['mean_s']:.1f} s, max {duration['max_s']:.1f} s"
        )
    return 0


def run_query(args: argparse.Namespace) -> int:
    from savkit.index import run_query as query

    result = query(args.index_dir, args.sql, csv_path=args.csv, video_list_path=args.video_list)
    print(_table(result.columns, [list(row) for row in result.first_rows]))
    shown = len(result.first_rows)
    more = f", first {shown} shown" if shown < result.row_count else ""
    print(f"({result.row_count:,} rows{more})")
    return 0


def _section(title: str, rows: list[dict], columns: list[str]) -> str:
    table = _table(columns, [[row[column] for column in columns] for row in rows])
    return f"{title}\n{table}" if title else table


def _table(headers: list[str], rows: list[list]) -> str:
    """Plain aligned columns: numbers right-aligned with thousands separators, text left-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]
    numeric = [
        bool(rows) and all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(headers))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
