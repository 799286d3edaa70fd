"""The dataset as tables: a Parquet index of every video and masklet, its statistics and SQL queries over it.

Needs the ``index`` extra (pyarrow, duckdb); importing this package without it is a SavkitError saying how to
install it, so the rest of savkit (and the CLI's other commands) work without the extra. The names below are
imported on first use, so that ``stats`` and ``query`` load DuckDB only (not pyarrow and the JSON readers).
"""

from importlib import import_module
from importlib.util import find_spec

from savkit.errors import SavkitError

if find_spec("duckdb") is None or find_spec("pyarrow") is None:
    raise SavkitError("the index commands need pyarrow and duckdb: pip install 'savkit[index]'")

_HOMES = {
    "IndexReport": "build",
    "build_index": "build",
    "QueryResult": "query",
    "open_index": "query",
    "run_query": "query",
    "index_stats": "stats",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"savkit.index.{_HOMES[name]}"), name)
