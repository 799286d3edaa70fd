"""The index tables' columns (file names and the format version are in ``savkit.index.layout``).

``videos`` and ``masklets`` are the user's tables; ``files`` is the manifest of every annotation source read
(path, size, mtime_ns) with the video fields it gave, so a re-run reads only new or changed sources.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from savkit.io.atomic import atomic_path

_VIDEO_FIELDS = [
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("split", pa.string(), nullable=False),
    pa.field("duration", pa.float64()),
    pa.field("frame_count", pa.int64()),
    pa.field("height", pa.int32()),
    pa.field("width", pa.int32()),
    pa.field("environment", pa.string()),
]

FILES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("mtime_ns", pa.int64(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        *_VIDEO_FIELDS,
        pa.field("n_masklets", pa.int32(), nullable=False),
    ]
)

VIDEOS_SCHEMA = pa.schema(
    [
        *_VIDEO_FIELDS,
        pa.field("n_manual", pa.int32(), nullable=False),
        pa.field("n_auto", pa.int32(), nullable=False),
        pa.field("has_mp4", pa.bool_(), nullable=False),
        pa.field("sources", pa.list_(pa.string()), nullable=False),
    ]
)

MASKLETS_SCHEMA = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("masklet_id", pa.int32(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("size_rel", pa.float64()),
        pa.field("size_abs", pa.float64()),
        pa.field("size_bucket", pa.string()),
        pa.field("visibility_changes", pa.int32()),
        pa.field("first_appeared_frame", pa.int32()),
        pa.field("frame_count", pa.int32()),
        pa.field("edited_frame_count", pa.int32()),
        pa.field("stability_score", pa.float64()),
        pa.field("areas", pa.list_(pa.int32()), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)


def write_index_table(table: pa.Table, path: Path) -> None:
    """Write one index table (or part) atomically, with the settings of every index table (zstd Parquet)."""
    import pyarrow.parquet as pq  # here: the workers import this module for the schemas only

    with atomic_path(path) as tmp:
        pq.write_table(table.combine_chunks(), tmp, compression="zstd")
