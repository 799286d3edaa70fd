"""Every failure the CLI can name is one line on stderr and exit code 2 (never a traceback); related outputs are
written together or not at all; `savkit query` stops on Ctrl-C and never writes into its index."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import savkit.io.atomic
from annotation_samples import write_train_json
from evaldata import make_sav_set
from savkit.cli import main
from savkit.cli.failures import failure_line
from savkit.errors import SavkitError
from savkit.io.atomic import write_texts_atomic

duckdb = pytest.importorskip("duckdb")


def one_line_error(capsys, code: int, *needles: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert all(needle in lines[0] for needle in needles), lines[0]
    return lines[0]


@pytest.fixture
def index(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    for name in ("a", "b"):
        write_train_json(root / f"{name}_manual.json")
    index_dir = tmp_path / "index"
    assert main(["index", str(root), "--out", str(index_dir), "--workers", "1", "-q"]) == 0
    return index_dir


# ------------------------------------------------------------------------------------- outputs written together


def test_eval_writes_neither_result_when_one_cannot_be_written(tmp_path: Path, capsys):
    gt_root, pred_root = make_sav_set(tmp_path, seed=3, videos=1, frames=4)
    (pred_root / "results.json").mkdir()  # the repro: a folder where results.json goes
    code = main(["eval", "--gt_root", str(gt_root), "--pred_root", str(pred_root), "-n", "1", "-q"])
    one_line_error(capsys, code, "results.json is a folder")
    assert not (pred_root / "results.csv").exists()


def test_related_files_are_all_written_or_none(tmp_path: Path, monkeypatch):
    (tmp_path / "a.txt").write_text("old a")
    write_texts_atomic({tmp_path / "a.txt": "new a", tmp_path / "b.txt": "b"})
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "b"
    real_write = Path.write_bytes

    def full_disk_for_b(path: Path, data: bytes) -> int:
        if path.name.startswith(".b.txt."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk_for_b)
    with pytest.raises(SavkitError, match=r"cannot write .*a.txt and .*b.txt \(No space left on device\)"):
        write_texts_atomic({tmp_path / "a.txt": "newer a", tmp_path / "b.txt": "new b"})
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_query_writes_both_outputs_or_neither(index: Path, tmp_path: Path, capsys):
    csv_path, listing = tmp_path / "out.csv", tmp_path / "ids.txt"
    listing.mkdir()
    sql = "SELECT video_id FROM videos"
    code = main(["query", str(index), sql, "--csv", str(csv_path), "--video-list", str(listing)])
    one_line_error(capsys, code, "ids.txt is a folder")
    assert not csv_path.exists()
    listing.rmdir()
    assert main(["query", str(index), sql, "--csv", str(csv_path), "--video-list", str(listing)]) == 0
    assert listing.read_text() == "a\nb\n" and csv_path.read_text() == "video_id\na\nb\n"


# ------------------------------------------------------------------------------------------- query: index and SQL


@pytest.mark.parametrize("option", ["--csv", "--video-list"])
def test_query_output_inside_the_index_folder_is_refused(index: Path, capsys, option: str):
    tables = {path.name: path.read_bytes() for path in index.iterdir()}
    target = index / "videos.parquet"
    code = main(["query", str(index), "SELECT 1 AS video_id", option, str(target)])
    one_line_error(capsys, code, "would be inside the index folder")
    assert {path.name: path.read_bytes() for path in index.iterdir()} == tables


def test_query_cannot_install_or_load_extensions(index: Path):
    from savkit.index.query import open_index

    settings = open_index(index).execute(
        "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    )
    assert settings.fetchall() == [(False, False)]


def test_ctrl_c_interrupts_a_running_query(index: Path):
    """The issue's repro: SIGINT was ignored while DuckDB worked (here a query of hours)."""
    runner = (
        "import signal, sys\n"
        "from savkit.cli import main\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as in a terminal, whatever pytest's is
        "print('ready', flush=True)\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    sql = "SELECT sum(hash(i)) FROM range(1000000000000) t(i)"
    process = subprocess.Popen(
        [sys.executable, "-c", runner, "query", str(index), sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "ready\n"
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130 and err == "savkit query: interrupted\n"


# --------------------------------------------------------------------------------------- one line, exit code 2


def test_truncated_parquet_is_one_line(index: Path, capsys):
    table = index / "masklets.parquet"
    table.write_bytes(table.read_bytes()[:300])
    for command in (["query", str(index), "SELECT * FROM masklets"], ["stats", str(index)]):
        one_line_error(capsys, main(command), "masklets.parquet: cannot read", "rebuild the index")


def test_bad_scheduler_address_is_refused_before_any_work(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["index", str(tmp_path), "--out", str(tmp_path / "i"), "--scheduler", "notaurl"])
    assert exit_info.value.code == 2
    assert "'notaurl' is not a Dask scheduler address" in capsys.readouterr().err


def refuse_temporaries(monkeypatch, errno_code: int, strerror: str) -> None:
    """Simulated (the tests may run as root, whom permissions do not stop): creating a temporary file fails as the
    real mkstemp does, naming the temporary it tried to create."""

    def refuse(suffix="", prefix="tmp", dir=None, text=False):
        raise OSError(errno_code, strerror, os.path.join(dir, f"{prefix}a1b2c3d4{suffix}"))

    monkeypatch.setattr(savkit.io.atomic.tempfile, "mkstemp", refuse)


def test_read_only_output_folder_is_one_line_naming_the_users_output(tmp_path: Path, capsys, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    write_train_json(root / "v_manual.json")
    out = tmp_path / "out"
    out.mkdir()
    refuse_temporaries(monkeypatch, errno.EROFS, "Read-only file system")
    code = main(["index", str(root), "--out", str(out / "index"), "--workers", "1", "-q"])
    line = one_line_error(capsys, code, f"cannot write {out / 'index'}", "(Read-only file system)")
    assert ".tmp" not in line
    expected = (
        "(Permission denied); nothing was written: check the folder's permissions and free space, "
        "or choose another output folder"
    )
    refuse_temporaries(monkeypatch, errno.EACCES, "Permission denied")
    for command, name in (["show", "--frame", "0"], "o.png"), (["render", "-q"], "o.gif"):
        code = main([command[0], str(root), "v", *command[1:], "--out", str(out / name)])
        err = capsys.readouterr().err.splitlines()  # a note (no video frames) comes first
        assert code == 2 and err[-1] == f"savkit {command[0]}: error: cannot write {out / name} {expected}"
        assert not (out / name).exists()


def test_json_nested_200000_deep_is_one_line(tmp_path: Path, capsys):
    (tmp_path / "v_manual.json").write_text("[" * 200_000 + "]" * 200_000)
    code = main(["show", str(tmp_path), "v", "--frame", "0", "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and "v_manual.json: JSON nested too deeply" in err[-1]


def test_non_utf8_names_print_and_index_without_a_traceback(tmp_path: Path):
    gt_root, pred_root = make_sav_set(tmp_path, seed=4, videos=2, frames=4)
    for root in (gt_root, pred_root):
        os.rename(os.fsencode(root / "v00"), os.fsencode(root) + b"/v\xff0")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "savkit",
            "eval",
            "--gt_root",
            str(gt_root),
            "--pred_root",
            str(pred_root),
            "-n",
            "1",
        ],
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    assert run.returncode == 0, run.stderr
    assert b"\nv\xff0 " in run.stdout and b"\nv\xff0 " in (pred_root / "results.csv").read_bytes()

    root = tmp_path / "root"
    root.mkdir()
    write_train_json(root / "good_manual.json")
    os.rename(os.fsencode(root / "good_manual.json"), os.fsencode(root) + b"/bad\xfe_manual.json")
    write_train_json(root / "good_manual.json")
    code = main(["index", str(root), "--out", str(tmp_path / "index"), "--workers", "1", "-q"])
    assert code == 1


def test_failure_lines_for_what_the_cli_can_name():
    assert failure_line(MemoryError()).startswith("out of memory: use fewer workers")
    assert failure_line(RecursionError()).startswith("input nested too deeply")
    line = failure_line(OSError(errno.ENOSPC, "No space left on device", "/out/x.png"))
    assert (
        line
        == "/out/x.png: No space left on device; the disk is full: free some space or choose another output folder"
    )
    try:
        duckdb.connect().execute("SELECT * FROM nowhere")
    except duckdb.Error as exc:
        assert failure_line(exc).startswith("DuckDB error: Catalog Error")
    assert failure_line(ValueError("a bug")) is None
