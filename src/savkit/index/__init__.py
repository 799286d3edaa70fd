"""The dataset as tables: a Parquet index of every video and masklet, its statistics and SQL queries over it.

Needs the ``index`` extra (pyarrow, duckdb); importing this package without it is a SavkitError saying how to
install it, so the rest of savkit (and the CLI's other commands) work without the extra.
"""

from savkit.errors import SavkitError

try:
    import duckdb  # noqa: F401
    import pyarrow  # noqa: F401
except ImportError:
    raise SavkitError("the index commands need pyarrow and duckdb: pip install 'savkit[index]'") from None

from savkit.index.build import IndexReport, build_index
from savkit.index.query import QueryResult, open_index, run_query
from savkit.index.stats import index_stats

__all__ = ["IndexReport", "QueryResult", "build_index", "index_stats", "open_index", "run_query"]
