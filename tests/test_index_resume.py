"""An interrupted index keeps what it read; two copies of one video are reported, never merged."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import savkit.index.read as index_read
from savkit.cli import main
from savkit.index import build_index
from savkit.index.layout import PARTS_DIR
from savkit.synthetic import write_train_videos

TABLES = ("videos", "masklets", "files")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_train_videos(tmp_path / "sav" / "sav_000", 10, seed=5)
    return tmp_path / "sav"


def all_jsons(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*.json")}


def assert_same_tables(index_dir: Path, fresh_dir: Path) -> None:
    for table in TABLES:
        assert pq.read_table(index_dir / f"{table}.parquet").equals(
            pq.read_table(fresh_dir / f"{table}.parquet")
        ), table


def test_ctrl_c_at_70_percent_keeps_what_was_read(root: Path, tmp_path: Path, monkeypatch) -> None:
    total = len(all_jsons(root))
    stop_at = int(0.7 * total)
    done: list[str] = []
    read = index_read.read_sav_json

    def interrupted_reader(path: Path):
        if len(done) == stop_at:
            raise KeyboardInterrupt
        video = read(path)
        done.append(Path(path).relative_to(root).as_posix())
        return video

    monkeypatch.setattr(index_read, "read_sav_json", interrupted_reader)
    index_dir = tmp_path / "index"
    with pytest.raises(KeyboardInterrupt):
        build_index(root, index_dir, workers=1)
    assert len(done) == stop_at and any((index_dir / PARTS_DIR).iterdir())

    monkeypatch.setattr(index_read, "read_sav_json", read)
    report = build_index(root, index_dir, workers=1)
    assert sorted(report.read) == sorted(all_jsons(root) - set(done))
    assert not (index_dir / PARTS_DIR).exists()
    build_index(root, tmp_path / "fresh", workers=1)
    assert_same_tables(index_dir, tmp_path / "fresh")


SIGTERM_RUN = """
import sys, time
from pathlib import Path
import savkit.index.read as index_read
from savkit.cli import main

root, out, log, stop_at = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
read, done = index_read.read_sav_json, []

def reader(path):
    if len(done) == stop_at:
        log.with_suffix(".waiting").touch()
        time.sleep(60)
    video = read(path)
    done.append(Path(path).relative_to(root).as_posix())
    log.write_text("\\n".join(done))
    return video

index_read.read_sav_json = reader
sys.exit(main(["index", str(root), "--out", out, "--workers", "1", "-q"]))
"""


def test_sigterm_keeps_what_was_read(root: Path, tmp_path: Path) -> None:
    stop_at = int(0.7 * len(all_jsons(root)))
    log, index_dir = tmp_path / "read.txt", tmp_path / "index"
    args = [sys.executable, "-c", SIGTERM_RUN, str(root), str(index_dir), str(log), str(stop_at)]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not log.with_suffix(".waiting").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "savkit index: interrupted" in err
    done = set(log.read_text().split())
    assert len(done) == stop_at

    report = build_index(root, index_dir, workers=2)
    assert sorted(report.read) == sorted(all_jsons(root) - done)
    build_index(root, tmp_path / "fresh", workers=1)
    assert_same_tables(index_dir, tmp_path / "fresh")


def test_two_copies_of_a_video_are_reported_not_merged(root: Path, tmp_path: Path, capsys) -> None:
    build_index(root, tmp_path / "single", workers=1)
    (root / "backup").mkdir()
    shutil.copy(root / "sav_000" / "sav_000003_manual.json", root / "backup")
    index_dir = tmp_path / "index"
    assert main(["index", str(root), "--out", str(index_dir), "--workers", "2", "-q"]) == 0
    err = capsys.readouterr().err
    assert "sav_000003 (manual) found twice" in err
    assert "backup/sav_000003_manual.json and sav_000/sav_000003_manual.json" in err
    videos = {row["video_id"]: row for row in pq.read_table(index_dir / "videos.parquet").to_pylist()}
    single = {
        row["video_id"]: row for row in pq.read_table(tmp_path / "single" / "videos.parquet").to_pylist()
    }
    assert videos["sav_000003"]["n_manual"] == single["sav_000003"]["n_manual"]
    assert videos["sav_000003"]["sources"] == [
        "backup/sav_000003_manual.json",
        "sav_000/sav_000003_auto.json",
    ]
    masklets = pq.read_table(index_dir / "masklets.parquet")
    assert masklets.num_rows == pq.read_table(tmp_path / "single" / "masklets.parquet").num_rows
