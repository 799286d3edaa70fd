"""The index on disk: its file names, the format version (a new version forces a full rebuild), the sources.

Kept apart from the table schemas (pyarrow) and the scanner so that ``stats`` and ``query``, which need only
DuckDB, and the workers, which only read the sources they are given, start fast.
"""

from dataclasses import dataclass

FORMAT_VERSION = 1
META_FILE = "index.json"
VIDEOS_FILE = "videos.parquet"
MASKLETS_FILE = "masklets.parquet"
FILES_FILE = "files.parquet"

JSON_SOURCE = "json"
PNG_SOURCE = "png_dir"
PARTS_DIR = ".savkit-parts"


@dataclass(frozen=True)
class Source:
    """One annotation source; ``path`` is relative to the dataset root (POSIX separators)."""

    path: str
    kind: str
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> tuple[int, int]:
        return self.size, self.mtime_ns
