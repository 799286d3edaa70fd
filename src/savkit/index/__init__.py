"""The dataset as tables: a Parquet index of every video and masklet, its statistics and SQL queries over it.

Needs the ``index`` extra (pyarrow, duckdb); importing this package without it is a SavkitError saying how to
install it, so the rest of savkit (and the CLI's other commands) work without the extra. The names below are
imported on first use, so that ``stats`` and ``query`` load DuckDB only (not pyarrow and the JSON readers).
"""

from importlib.util import find_spec

from savkit.errors import SavkitError
from savkit.lazy import lazy_attributes

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

__getattr__ = lazy_attributes(__name__, _HOMES)
