"""SQL over an index with embedded DuckDB: views ``videos`` and ``masklets`` read the Parquet files in place.

A query runs once into a temporary table; the preview, the CSV and the video list all read that table. DuckDB
work runs in a helper thread so that Ctrl-C interrupts it (DuckDB does not look at signals while it works), and
DuckDB may not install or load extensions on its own (a SELECT must not download code).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from savkit.errors import SavkitError
from savkit.index.layout import FORMAT_VERSION, MASKLETS_FILE, META_FILE, VIDEOS_FILE
from savkit.io.atomic import atomic_paths

VIEWS = {"videos": VIDEOS_FILE, "masklets": MASKLETS_FILE}
_RESULT = "savkit_query_result"
# No extension is installed or loaded behind the user's back (autoinstall would download one for a SELECT).
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@dataclass(frozen=True)
class QueryResult:
    """Column names, the total row count and the first rows of a query's result."""

    columns: list[str]
    row_count: int
    first_rows: list[tuple]


def open_index(index_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views ``videos`` and ``masklets`` over the index's tables."""
    index_dir = Path(index_dir)
    try:
        meta = json.loads((index_dir / META_FILE).read_text())
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict):  # unreadable, or another tool's index.json (a list, a string...)
        raise SavkitError(
            f"{index_dir} is not a savkit index (no readable {META_FILE}): build it with `savkit index ROOT --out {index_dir}`"
        )
    if meta.get("format") != FORMAT_VERSION:
        raise SavkitError(f"{index_dir} was built by another savkit version: rebuild it with `savkit index`")
    missing = [name for name in VIEWS.values() if not (index_dir / name).is_file()]
    if missing:
        raise SavkitError(
            f"{index_dir} is incomplete (no {', '.join(missing)}): rebuild it with `savkit index`"
        )
    connection = duckdb.connect(config=_CONFIG)
    for view, file_name in VIEWS.items():
        try:
            connection.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_string(index_dir / file_name)})"
            )
        except duckdb.Error as exc:  # a truncated or damaged table
            raise SavkitError(
                f"{index_dir / file_name}: cannot read ({_first_line(exc)}): rebuild the index with `savkit index`"
            ) from None
    return connection


def run_query(
    index_dir: str | Path,
    sql: str,
    *,
    csv_path: str | Path | None = None,
    video_list_path: str | Path | None = None,
    preview_rows: int = 20,
) -> QueryResult:
    """Run one SELECT; optionally write the result as CSV and its distinct ``video_id`` values, one per line.

    The outputs are written together (both or neither) and never inside the index folder (they could replace its
    tables). Ctrl-C interrupts the query (KeyboardInterrupt).
    """
    outputs = {"CSV": csv_path, "video list": video_list_path}
    outputs = {option: Path(path) for option, path in outputs.items() if path is not None}
    _check_outside_index(index_dir, outputs)
    connection = open_index(index_dir)
    try:
        _execute(connection, f"CREATE TEMP TABLE {_RESULT} AS {_one_statement(sql)}")
    except duckdb.Error as exc:
        raise SavkitError(f"SQL error: {_first_line(exc)}") from None
    with atomic_paths(*outputs.values()) as temporaries:
        tmp = dict(zip(outputs, temporaries, strict=True))
        if "CSV" in tmp:
            _write_csv(connection, tmp["CSV"], outputs["CSV"])
        if "video list" in tmp:
            ids = "".join(f"{video_id}\n" for video_id in _video_ids(connection))
            tmp["video list"].write_bytes(ids.encode("utf-8", "surrogateescape"))
    cursor = connection.execute(f"SELECT * FROM {_RESULT}")
    columns = [description[0] for description in cursor.description]
    first_rows = cursor.fetchmany(preview_rows)
    row_count = connection.execute(f"SELECT count(*) FROM {_RESULT}").fetchone()[0]
    return QueryResult(columns, row_count, first_rows)


def _write_csv(connection: duckdb.DuckDBPyConnection, tmp: Path, csv_path: Path) -> None:
    try:
        _execute(connection, f"COPY {_RESULT} TO {_sql_string(tmp)} (FORMAT csv, HEADER)")
    except duckdb.IOException as exc:
        raise SavkitError(
            f"cannot write {csv_path} ({_first_line(exc)}): check the folder's permissions and free space"
        ) from None


def _check_outside_index(index_dir: str | Path, outputs: dict[str, Path]) -> None:
    """An output inside the index folder could replace one of its tables: refused before anything runs."""
    index = Path(index_dir).resolve()
    for what, path in outputs.items():
        if path.resolve().is_relative_to(index):
            raise SavkitError(
                f"the {what} {path} would be inside the index folder {index_dir}: write it somewhere else"
            )


def _execute(connection: duckdb.DuckDBPyConnection, statement: str) -> duckdb.DuckDBPyConnection:
    """Run a statement in a helper thread while this one waits, so that Ctrl-C (KeyboardInterrupt, raised here
    in the main thread) can interrupt DuckDB; the statement is then cancelled before the interrupt goes on."""
    outcome: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = connection.execute(statement)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="savkit-query", daemon=True).start()
    try:
        done.wait()
    except KeyboardInterrupt:
        connection.interrupt()
        done.wait()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _video_ids(connection: duckdb.DuckDBPyConnection) -> list[str]:
    try:
        rows = _execute(connection, f"SELECT DISTINCT video_id FROM {_RESULT} ORDER BY video_id").fetchall()
    except duckdb.BinderException:
        raise SavkitError(
            "--video-list needs a video_id column in the result: add video_id to the SELECT"
        ) from None
    return [str(video_id) for (video_id,) in rows if video_id is not None]


def _one_statement(sql: str) -> str:
    """The query without a trailing semicolon; it must be one SELECT (DuckDB would run other statements unseen,
    and the index is read-only)."""
    statement = sql.strip().rstrip(";").strip()
    if not statement:
        raise SavkitError('empty SQL: pass a query such as "SELECT * FROM videos LIMIT 10"')
    statements = duckdb.extract_statements(statement)
    if len(statements) > 1 or statements[0].type != duckdb.StatementType.SELECT:
        found = (
            f"{len(statements)} statements"
            if len(statements) > 1
            else f"a {statements[0].type.name} statement"
        )
        raise SavkitError(
            f"only one read-only SELECT is allowed, found {found}: pass a query such as "
            '"SELECT * FROM videos LIMIT 10"'
        )
    return statement


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split("\n")[0].split())


def _sql_string(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
