"""The parallel runner: same results in-process, in local processes and on a real Dask LocalCluster;
failures (exceptions and dying workers) recorded per item; resumable per-video outputs."""

from __future__ import annotations

import json
import os
import threading

import pytest

from savkit.cli.progress import progress_bar
from savkit.errors import SavkitError
from savkit.parallel import (
    CRASH_REASON,
    MARKER_DIR,
    RunReport,
    Summary,
    VideoStats,
    is_complete,
    partial_folder,
    run_tasks,
    write_video_output,
)
from savkit.progress import Progress


def square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three is\nnot allowed")
    return x * x


def square_or_crash(x: int) -> int:
    if x == 2:
        os._exit(7)  # a worker dying without a Python exception (like a segfault or the OOM killer)
    return x * x


EXPECTED = {x: x * x for x in range(6) if x != 3}


@pytest.mark.parametrize("workers", [1, 2])
def test_local_results_and_one_line_failures(workers):
    report = run_tasks(square_or_fail, range(6), workers=workers)
    assert report.results == EXPECTED
    assert report.failures == [(3, "ValueError: three is not allowed")]
    assert report.seconds > 0


def test_fewer_than_one_worker_is_a_savkit_error_before_any_item_runs():
    with pytest.raises(SavkitError, match="workers must be at least 1, not 0"):
        run_tasks(square_or_fail, [1], workers=0)


def test_a_dying_worker_process_is_a_failure_of_its_item_only():
    report = run_tasks(square_or_crash, range(6), workers=2)
    assert report.failures == [(2, CRASH_REASON)]
    assert report.results == {x: x * x for x in range(6) if x != 2}


def test_an_item_that_cannot_be_sent_to_a_worker_is_a_failure():
    report = run_tasks(str, [1, threading.Lock()], workers=2, key=type)
    assert report.results == {int: "1"}
    assert [(key, reason.split(":")[0]) for key, reason in report.failures] == [
        (type(threading.Lock()), "TypeError")
    ]


def test_key_names_items_and_savkit_errors_keep_their_message():
    def key(item):
        return f"video{item}"

    report = run_tasks(_raise_savkit_error, [1], workers=1, key=key)
    assert report.failures == [("video1", "bad input 1: fix it")]


def _raise_savkit_error(x: int) -> None:
    raise SavkitError(f"bad input {x}: fix it")


def test_progress_goes_to_the_callback_and_nothing_is_printed(capfd):
    reports = []
    run_tasks(square_or_fail, [1, 3, 2], workers=1, progress=reports.append)
    assert reports == [Progress(0, 3), Progress(1, 3), Progress(2, 3, failed=1), Progress(3, 3, failed=1)]
    assert capfd.readouterr() == ("", "")  # the library never prints: the CLI draws the bar


def test_cli_draws_the_bar_from_the_callback_and_quiet_draws_none(capfd):
    with progress_bar("squares", "video") as progress:
        run_tasks(square_or_fail, [1, 2], workers=1, progress=progress)
    err = capfd.readouterr().err
    assert "squares" in err and "2/2" in err and "video/s" in err
    with progress_bar("squares", "video", quiet=True) as progress:
        assert progress is None


def test_dask_local_cluster_by_client_and_by_address(dask_client):
    by_client = run_tasks(square_or_fail, range(6), scheduler=dask_client)
    by_address = run_tasks(square_or_fail, range(6), scheduler=dask_client.scheduler.address)
    for report in (by_client, by_address):
        assert report.results == EXPECTED
        assert report.failures == [(3, "ValueError: three is not allowed")]


def test_a_dying_dask_worker_is_a_failure_not_a_hang():
    distributed = pytest.importorskip("distributed")
    import dask

    # A cluster of its own: the scheduler reads allowed-failures when it starts, and this test kills workers.
    # Each worker death counts against the task; with 1 allowed, the crashing item fails after two deaths.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = run_tasks(square_or_crash, range(6), scheduler=client)
    failures = dict(report.failures)
    assert failures[2] == f"{CRASH_REASON} (Dask KilledWorker)"
    assert set(report.results) | set(failures) == set(range(6))
    assert all(report.results[x] == x * x for x in report.results)


def test_unreachable_scheduler_is_a_savkit_error():
    pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), pytest.raises(SavkitError):
        run_tasks(square_or_fail, [1], scheduler="tcp://127.0.0.1:9")


def _write_two_files(folder):
    (folder / "a.txt").write_text("hello")
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("abc")
    return 2


def test_video_output_renames_into_place_then_marks_complete(tmp_path):
    assert not is_complete(tmp_path, "v1")
    stats = write_video_output(tmp_path, "v1", _write_two_files)
    assert stats == VideoStats(files=2, bytes=8, skipped=False)
    assert is_complete(tmp_path, "v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [MARKER_DIR, "v1"]
    assert (tmp_path / "v1" / "sub" / "b.txt").read_text() == "abc"


def test_resume_skips_complete_redoes_partial_and_cleans_stale_temporaries(tmp_path):
    write_video_output(tmp_path, "done", _write_two_files)
    done_mtime = (tmp_path / "done" / "a.txt").stat().st_mtime_ns
    # A killed run: a folder marked as being written, and a temporary folder never renamed.
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "junk.txt").write_text("half")
    (tmp_path / MARKER_DIR / "partial.json").write_text('{"state": "writing", "settings": null}')
    partial_folder(tmp_path, "partial").mkdir()

    assert write_video_output(tmp_path, "done", _write_two_files) == VideoStats(2, 8, skipped=True)
    assert (tmp_path / "done" / "a.txt").stat().st_mtime_ns == done_mtime
    assert write_video_output(tmp_path, "partial", _write_two_files) == VideoStats(2, 8)
    assert sorted(p.name for p in (tmp_path / "partial").iterdir()) == ["a.txt", "sub"]
    assert not partial_folder(tmp_path, "partial").exists()

    assert write_video_output(tmp_path, "done", _write_two_files, overwrite=True) == VideoStats(2, 8)
    assert (tmp_path / "done" / "a.txt").stat().st_mtime_ns != done_mtime


def test_a_failed_block_leaves_neither_folder_nor_marker(tmp_path):
    def write_then_fail(folder):
        _write_two_files(folder)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_video_output(tmp_path, "v1", write_then_fail)
    assert not is_complete(tmp_path, "v1")
    assert [p.name for p in tmp_path.iterdir()] == [MARKER_DIR]
    assert list((tmp_path / MARKER_DIR).iterdir()) == []


def test_summary_counts_written_videos_and_skips():
    report = RunReport(
        results={"a": VideoStats(3, 1500), "b": VideoStats(5, 10, skipped=True), "c": VideoStats(2, 500)},
        failures=[("d", "broken")],
        seconds=2.0,
    )
    summary = Summary.of(report)
    assert summary == Summary(videos=2, skipped=1, failed=1, files=5, bytes=2000, seconds=2.0)
    assert summary.describe("frame") == "2 videos done, 1 skipped, 1 failed; 5 frames, 2.0 kB in 2.0 s"
    single = Summary(videos=1, skipped=0, failed=0, files=1, bytes=1, seconds=0.5)
    assert single.describe("PNG") == "1 video done, 0 skipped, 0 failed; 1 PNG, 1 B in 0.5 s"


def test_an_output_is_marked_complete_only_with_the_file_count_its_writer_expected(tmp_path):
    def write_one_of_two(folder):
        (folder / "a.txt").write_text("hello")
        return 2  # e.g. a second writer cleared the folder meanwhile

    with pytest.raises(SavkitError, match="1 files written, 2 expected; not marked complete"):
        write_video_output(tmp_path, "v1", write_one_of_two)
    assert not is_complete(tmp_path, "v1") and not (tmp_path / "v1").exists()


def test_a_complete_output_records_its_settings_and_is_redone_under_others(tmp_path):
    first = write_video_output(tmp_path, "v1", _write_two_files, settings={"every": 4})
    assert json.loads((tmp_path / MARKER_DIR / "v1.json").read_text()) == {
        "state": "complete",
        "settings": {"every": 4},
        "files": 2,
        "bytes": 8,
    }
    assert write_video_output(tmp_path, "v1", _write_two_files, settings={"every": 4}).skipped
    assert not write_video_output(tmp_path, "v1", _write_two_files, settings={"every": 1}).skipped
    assert first == VideoStats(2, 8)
