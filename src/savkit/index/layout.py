"""The index on disk: its file names, the format version (a new version forces a full rebuild), the source kinds.

Kept apart from the table schemas (pyarrow) so that ``stats`` and ``query``, which need only DuckDB, start fast.
"""

FORMAT_VERSION = 1
META_FILE = "index.json"
VIDEOS_FILE = "videos.parquet"
MASKLETS_FILE = "masklets.parquet"
FILES_FILE = "files.parquet"

JSON_SOURCE = "json"
PNG_SOURCE = "png_dir"
PARTS_DIR = ".savkit-parts"
