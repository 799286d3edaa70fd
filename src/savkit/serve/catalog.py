"""The video list of ``savkit serve``: the index's videos in an in-memory DuckDB table, filtered, sorted and paged.

At start the ``videos`` view is joined once with per-video masklet aggregates (largest visibility changes, the size
buckets present) and with the J&F of each results run, so a list page is one query over one small table.
Only the videos that are both in the index and in the dataset are in the table: it is the list of servable ids.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from savkit.errors import SavkitError
from savkit.index import build_index, open_index
from savkit.progress import ProgressCallback

INDEX_FOLDER = ".savkit-index"  # a hidden name: every discovery (the index's own scan too) skips it
SORT_KEYS = {
    "video_id": "video_id",
    "split": "split",
    "environment": "environment",
    "duration": "duration",
    "masklets": "masklets",
    "manual": "n_manual",
    "auto": "n_auto",
    "visibility_changes": "visibility_changes",
    "jf": "jf",
}
LIST_COLUMNS = (
    "video_id",
    "split",
    "environment",
    "duration",
    "frame_count",
    "height",
    "width",
    "n_manual",
    "n_auto",
    "masklets",
    "visibility_changes",
    "size_buckets",
    "has_mp4",
)
MASKLET_COLUMNS = (
    "masklet_id",
    "type",
    "size_bucket",
    "size_rel",
    "visibility_changes",
    "first_appeared_frame",
    "stability_score",
    "areas",
)


@dataclass(frozen=True)
class VideoFilter:
    """What the list page asks for; every field was validated by the web layer (sort is a key of SORT_KEYS)."""

    split: str | None = None
    environment: str | None = None
    size_bucket: str | None = None
    min_masklets: int | None = None
    max_masklets: int | None = None
    min_visibility_changes: int | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    search: str | None = None
    run: str | None = None
    sort: str = "video_id"
    descending: bool = False
    offset: int = 0
    limit: int = 50


def prepare_index(
    root: Path,
    index_dir: Path | None,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The index to serve: ``index_dir`` as it is when it exists (built there when it does not), else
    ``ROOT/.savkit-index``, built or brought up to date (a re-run reads only changed files)."""
    if index_dir is not None and index_dir.exists():
        open_index(index_dir).close()  # a SavkitError if it is not a savkit index
        return index_dir
    target = index_dir if index_dir is not None else root / INDEX_FOLDER
    report = build_index(root, target, workers=workers, progress=progress)
    if report.failures:
        path, reason = report.failures[0]
        raise SavkitError(
            f"{root / path}: {reason} ({len(report.failures)} unreadable source(s)); "
            "fix or remove them (`savkit validate` lists the problems)"
        )
    return target


class Catalog:
    """The servable videos and their list queries (thread-safe: each query uses its own cursor)."""

    def __init__(
        self, index_dir: Path, dataset_ids: set[str], run_scores: dict[str, dict[str, float]]
    ) -> None:
        self._connection = open_index(index_dir)
        listed = [
            row[0] for row in self._connection.execute("SELECT DISTINCT video_id FROM videos").fetchall()
        ]
        ids = sorted(set(listed) & dataset_ids)
        if not ids:
            raise SavkitError(
                f"the index {index_dir} holds none of the dataset's videos: build it from this ROOT "
                "(`savkit index ROOT --out DIR`) or leave out --index"
            )
        self._connection.register("served_ids", pa.table({"video_id": pa.array(ids, pa.string())}))
        self._connection.register("run_scores", _scores_table(run_scores))
        self._connection.execute(_CATALOG_SQL)
        self._connection.execute("CREATE TABLE scores AS SELECT * FROM run_scores")
        self._connection.unregister("served_ids")
        self._connection.unregister("run_scores")
        self.ids = frozenset(ids)
        self.runs = sorted(run_scores)
        self._lock = threading.Lock()

    def __contains__(self, video_id: object) -> bool:
        return video_id in self.ids

    def facets(self) -> dict:
        """The values the list's filters offer: splits, environments, size buckets, and the ranges."""
        distinct = {
            column: [row[0] for row in self._query(f"SELECT DISTINCT {column} FROM catalog ORDER BY 1")]
            for column in ("split", "environment")
        }
        buckets = self._query("SELECT DISTINCT unnest(size_buckets) FROM catalog ORDER BY 1")
        low, high, most, changes = self._query(
            "SELECT min(duration), max(duration), max(masklets), max(visibility_changes) FROM catalog"
        )[0]
        return {
            "splits": [v for v in distinct["split"] if v is not None],
            "environments": [v for v in distinct["environment"] if v is not None],
            "size_buckets": [row[0] for row in buckets if row[0] is not None],
            "duration": [low, high],
            "max_masklets": most,
            "max_visibility_changes": changes,
            "runs": self.runs,
            "videos": len(self.ids),
        }

    def videos(self, query: VideoFilter) -> tuple[int, list[dict]]:
        """(number of matching videos, the requested page of them as dicts)."""
        where, params = _conditions(query)
        run = query.run or (self.runs[0] if self.runs else None)
        scores = "(SELECT video_id, jf FROM scores WHERE run = ?)"
        base = f"FROM catalog LEFT JOIN {scores} AS s USING (video_id) WHERE {where}"
        total = self._query(f"SELECT count(*) {base}", [run, *params])[0][0]
        order = f"{SORT_KEYS[query.sort]} {'DESC' if query.descending else 'ASC'} NULLS LAST, video_id"
        columns = ", ".join(LIST_COLUMNS)
        rows = self._query(
            f"SELECT {columns}, jf {base} ORDER BY {order} LIMIT ? OFFSET ?",
            [run, *params, query.limit, query.offset],
        )
        names = [*LIST_COLUMNS, "jf"]
        return total, [dict(zip(names, row, strict=True)) for row in rows]

    def video(self, video_id: str) -> dict:
        """One listed video's row with its masklets (per-frame areas included) and J&F per run."""
        columns = ", ".join(LIST_COLUMNS)
        (row,) = self._query(f"SELECT {columns} FROM catalog WHERE video_id = ?", [video_id])
        video = dict(zip(LIST_COLUMNS, row, strict=True))
        masklets = self._query(
            f"SELECT {', '.join(MASKLET_COLUMNS)} FROM masklets WHERE video_id = ? AND split = ? "
            "ORDER BY type DESC, masklet_id",
            [video_id, video["split"]],
        )
        video["masklets"] = [dict(zip(MASKLET_COLUMNS, m, strict=True)) for m in masklets]
        video["jf"] = dict(self._query("SELECT run, jf FROM scores WHERE video_id = ?", [video_id]))
        return video

    def close(self) -> None:
        self._connection.close()

    def _query(self, sql: str, params: list | None = None) -> list[tuple]:
        with self._lock:
            cursor = self._connection.cursor()
        try:
            return cursor.execute(sql, params or []).fetchall()
        finally:
            cursor.close()


_CATALOG_SQL = """
CREATE TABLE catalog AS
WITH one_row_per_id AS (
    SELECT * FROM videos WHERE video_id IN (SELECT video_id FROM served_ids)
    QUALIFY row_number() OVER (PARTITION BY video_id ORDER BY split) = 1
), per_video AS (
    SELECT video_id, split, max(visibility_changes) AS visibility_changes,
           list_sort(list_distinct(list(size_bucket))) AS size_buckets
    FROM masklets GROUP BY video_id, split
)
SELECT v.video_id, v.split, v.environment, v.duration, v.frame_count, v.height, v.width,
       v.n_manual, v.n_auto, v.n_manual + v.n_auto AS masklets,
       coalesce(p.visibility_changes, 0) AS visibility_changes,
       coalesce(p.size_buckets, []) AS size_buckets, v.has_mp4
FROM one_row_per_id AS v LEFT JOIN per_video AS p USING (video_id, split)
"""


def _conditions(query: VideoFilter) -> tuple[str, list]:
    """The WHERE clause of a filter, with ``?`` placeholders (no value is ever pasted into the SQL)."""
    tests = [
        ("split = ?", query.split),
        ("environment = ?", query.environment),
        ("list_contains(size_buckets, ?)", query.size_bucket),
        ("masklets >= ?", query.min_masklets),
        ("masklets <= ?", query.max_masklets),
        ("visibility_changes >= ?", query.min_visibility_changes),
        ("duration >= ?", query.min_duration),
        ("duration <= ?", query.max_duration),
        ("contains(video_id, ?)", query.search),
    ]
    used = [(test, value) for test, value in tests if value is not None]
    where = " AND ".join(test for test, _ in used) or "TRUE"
    return where, [value for _, value in used]


def _scores_table(run_scores: dict[str, dict[str, float]]) -> pa.Table:
    rows = [(run, video, jf) for run, scores in run_scores.items() for video, jf in scores.items()]
    return pa.table(
        {
            "run": pa.array([r[0] for r in rows], pa.string()),
            "video_id": pa.array([r[1] for r in rows], pa.string()),
            "jf": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
