"""Short commands start fast: they import none of the heavy libraries they do not need (checked in a fresh process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from savkit.index import build_index
from savkit.synthetic import write_train_videos

HEAVY = {"av", "cv2", "pycocotools", "duckdb", "pyarrow", "numpy", "PIL", "tqdm"}


def heavy_modules_after(*args: str) -> set[str]:
    """Run ``savkit ARGS`` in a fresh interpreter; the heavy top-level modules it imported."""
    code = (
        "import sys\n"
        "from savkit.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = {name.split(".")[0] for name in done.stderr.split()}
    return imported & HEAVY


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["stats", "--help"]])
def test_version_and_help_import_no_heavy_library(args: list[str]) -> None:
    assert heavy_modules_after(*args) == set()


def test_stats_and_query_import_duckdb_only(tmp_path: Path) -> None:
    write_train_videos(tmp_path / "root", 2, seed=0)
    build_index(tmp_path / "root", tmp_path / "index", workers=1)
    assert heavy_modules_after("stats", str(tmp_path / "index")) == {"duckdb"}
    sql = "SELECT video_id FROM masklets WHERE type = 'manual'"
    assert heavy_modules_after("query", str(tmp_path / "index"), sql) == {"duckdb"}
