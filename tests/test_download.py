"""savkit download against a local HTTP server (127.0.0.1) with Range support and injected faults."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from http_files import Fault, links_file, serve
from savkit.cli import main
from savkit.download import DownloadProgress, RetryPolicy, download, parse_links, select
from savkit.errors import SavkitError

FAST = RetryPolicy(retries=3, delay=0.01, max_delay=0.05, connect_timeout=5, read_timeout=5)
TARS = ["sav_000.tar", "sav_001.tar", "sav_val.tar"]


def _add(
    archive: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mtime, info.mode = kind, link, len(data), 1_700_000_000, 0o644
    archive.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _payload(seed: int, size: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32)


def _sav_tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, data in members:
            _add(archive, name, data)
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> dict[str, Path]:
    """Three SA-V-shaped tars (train as the tars hold them: sav_train/sav_000/...; val) and both checksum lists."""
    src = tmp_path / "srv"
    src.mkdir()
    files = {
        "sav_000.tar": _sav_tar(
            src / "sav_000.tar",
            [
                ("sav_train/sav_000/sav_000001.mp4", _payload(1, 300_000)),
                ("sav_train/sav_000/sav_000001_manual.json", b'{"video_id": "sav_000001"}'),
                ("sav_train/sav_000/sav_000001_auto.json", b'{"video_id": "sav_000001"}'),
            ],
        ),
        "sav_001.tar": _sav_tar(
            src / "sav_001.tar",
            [("sav_001/sav_000002.mp4", _payload(2, 200_000)), ("sav_001/sav_000002_manual.json", b"{}")],
        ),
        "sav_val.tar": _sav_tar(
            src / "sav_val.tar",
            [
                ("sav_val/sav_val.txt", b"sav_000010\n"),
                ("sav_val/JPEGImages_24fps/sav_000010/00000.jpg", _payload(3, 50_000)),
                ("sav_val/Annotations_6fps/sav_000010/000/00000.png", _payload(4, 3_000)),
            ],
        ),
    }
    for kind in ("sha256", "md5"):
        lines = [f"{hashlib.new(kind, files[n].read_bytes()).hexdigest()}  {n}\n" for n in TARS]
        files[f"sav_{kind}sum.chk"] = src / f"sav_{kind}sum.chk"
        files[f"sav_{kind}sum.chk"].write_text("".join(lines))
    return files


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root (hidden state excluded) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".savkit-download" not in p.parts
    }


EXPECTED_FILES = {
    "sav_train/sav_000/sav_000001.mp4",
    "sav_train/sav_000/sav_000001_manual.json",
    "sav_train/sav_000/sav_000001_auto.json",
    "sav_train/sav_001/sav_000002.mp4",
    "sav_train/sav_001/sav_000002_manual.json",
    "sav_val/sav_val.txt",
    "sav_val/JPEGImages_24fps/sav_000010/00000.jpg",
    "sav_val/Annotations_6fps/sav_000010/000/00000.png",
    "sav_sha256sum.chk",
    "sav_md5sum.chk",
}


def _run(tmp_path, dataset, faults=None, names=None, **options):
    with serve(dataset) as server:
        server.faults.update(faults or {})
        links = links_file(tmp_path / "links.txt", server, names or list(dataset))
        report = download(links, tmp_path / "out", policy=FAST, **options)
    return report, server


def test_clean_run_lays_out_sav_and_verifies(tmp_path, dataset):
    report, server = _run(tmp_path, dataset)
    tree = _tree(tmp_path / "out")
    assert set(tree) == EXPECTED_FILES
    with tarfile.open(dataset["sav_001.tar"]) as archive:
        assert (
            tree["sav_train/sav_001/sav_000002.mp4"] == archive.extractfile("sav_001/sav_000002.mp4").read()
        )
    assert report.ok and report.count("done") == 5
    assert {r.name: r.verified for r in report.files if r.name.endswith(".tar")} == dict.fromkeys(
        TARS, "sha256"
    )
    assert all(r.extracted for r in report.files if r.name.endswith(".tar"))
    assert not list((tmp_path / "out" / ".savkit-download").glob("*.part"))
    # each tar was fetched once, whole
    assert all(len(server.gets(name)) == 1 for name in TARS)


def test_rerun_is_idempotent_and_fetches_nothing(tmp_path, dataset):
    _run(tmp_path, dataset)
    before = _tree(tmp_path / "out")
    report, server = _run(tmp_path, dataset)
    assert report.count("skipped") == 5 and report.count("done") == 0
    assert server.requests == []
    assert _tree(tmp_path / "out") == before
    # a removed folder is redone, and only that
    import shutil

    shutil.rmtree(tmp_path / "out" / "sav_train" / "sav_001")
    report, server = _run(tmp_path, dataset)
    assert [r.name for r in report.files if r.status == "done"] == ["sav_001.tar"]
    assert _tree(tmp_path / "out") == before


def test_md5_used_when_no_sha256(tmp_path, dataset):
    names = [n for n in dataset if n != "sav_sha256sum.chk"]
    report, _ = _run(tmp_path, dataset, names=names)
    assert {r.verified for r in report.files if r.name.endswith(".tar")} == {"md5"}


def test_dropped_connection_resumes_with_range(tmp_path, dataset):
    report, server = _run(tmp_path, dataset, faults={"sav_000.tar": [Fault("drop", at=100_000)]})
    assert report.ok
    ranges = [r.range for r in server.gets("sav_000.tar")]
    assert (
        ranges[0] is None and len(ranges) == 2 and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    )
    assert int(ranges[1].removeprefix("bytes=").rstrip("-")) >= 65536
    assert set(_tree(tmp_path / "out")) == EXPECTED_FILES


def test_server_without_ranges_restarts_from_zero(tmp_path, dataset):
    with serve(dataset) as server:
        server.ranges = False
        server.faults["sav_000.tar"] = [Fault("drop", at=150_000)]
        links = links_file(tmp_path / "links.txt", server, list(dataset))
        report = download(links, tmp_path / "out", policy=FAST)
    assert report.ok and len(server.gets("sav_000.tar")) == 2
    assert set(_tree(tmp_path / "out")) == EXPECTED_FILES
    with tarfile.open(dataset["sav_000.tar"]) as archive:
        want = archive.extractfile("sav_train/sav_000/sav_000001.mp4").read()
    assert (tmp_path / "out/sav_train/sav_000/sav_000001.mp4").read_bytes() == want


def test_server_without_content_length(tmp_path, dataset):
    """Bodies that end when the server closes (read through requests, not the reused buffer): verified, unpacked."""
    with serve(dataset) as server:
        server.lengths = False
        links = links_file(tmp_path / "links.txt", server, list(dataset))
        report = download(links, tmp_path / "out", policy=FAST)
        one = links_file(tmp_path / "one.txt", server, ["sav_000.tar"])
        single = download(one, tmp_path / "single", extract=False, policy=FAST)
    assert report.ok and set(_tree(tmp_path / "out")) == EXPECTED_FILES
    assert {r.verified for r in report.files if r.name.endswith(".tar")} == {"sha256"}
    assert single.ok and (tmp_path / "single/sav_000.tar").read_bytes() == dataset["sav_000.tar"].read_bytes()


def test_500_then_success(tmp_path, dataset):
    report, server = _run(tmp_path, dataset, faults={"sav_val.tar": [Fault("status", status=500)]})
    assert report.ok and len(server.gets("sav_val.tar")) == 2


def test_truncated_body_is_completed(tmp_path, dataset):
    report, server = _run(tmp_path, dataset, faults={"sav_001.tar": [Fault("short", at=70_000)]})
    assert report.ok
    assert [r.range for r in server.gets("sav_001.tar")] == [None, "bytes=70000-"]
    with tarfile.open(dataset["sav_001.tar"]) as archive:
        want = archive.extractfile("sav_001/sav_000002.mp4").read()
    assert (tmp_path / "out/sav_train/sav_001/sav_000002.mp4").read_bytes() == want


def test_corrupt_byte_caught_by_checksum_and_fetched_again(tmp_path, dataset):
    report, server = _run(tmp_path, dataset, faults={"sav_000.tar": [Fault("corrupt", at=200_000)]})
    assert report.ok and len(server.gets("sav_000.tar")) == 2
    assert any("sha256 mismatch" in w for w in report.warnings)
    assert set(_tree(tmp_path / "out")) == EXPECTED_FILES


def test_corrupt_twice_fails_the_file_only(tmp_path, dataset, capsys):
    faults = {"sav_000.tar": [Fault("corrupt", at=1000), Fault("corrupt", at=1000)]}
    with serve(dataset) as server:
        server.faults.update(faults)
        links = links_file(tmp_path / "links.txt", server, list(dataset))
        code = main(["download", str(links), str(tmp_path / "out"), "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "sav_000.tar" in err and "mismatch twice" in err
    out = tmp_path / "out"
    assert not (out / "sav_train" / "sav_000").exists()  # never placed unverified
    assert (out / "sav_train" / "sav_001" / "sav_000002.mp4").exists()


def test_403_mid_run_stops_cleanly_keeping_complete_files(tmp_path, dataset, capsys):
    with serve(dataset) as server:
        server.faults["sav_001.tar"] = [Fault("status", status=403)]
        links = links_file(tmp_path / "links.txt", server, list(dataset))
        code = main(["download", str(links), str(tmp_path / "out"), "--workers", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "fresh links file" in err and "Traceback" not in err
    out = tmp_path / "out"
    assert (out / "sav_train" / "sav_000" / "sav_000001.mp4").exists()  # finished before the 403: kept
    assert not (out / "sav_val").exists()  # not started after it
    assert server.gets("sav_val.tar") == []


def test_expired_links_fetch_nothing(tmp_path, dataset, capsys):
    with serve(dataset) as server:
        links = links_file(tmp_path / "links.txt", server, list(dataset), expires=int(time.time()) - 60)
        code = main(["download", str(links), str(tmp_path / "out")])
        assert server.requests == []
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expired" in err[0] and "fresh links file" in err[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name\turl\nsav_000.tar\thttp://h/x\n", "not an SA-V links file"),
        ("file_name\tcdn_link\nsav_000.tar\n", "line 2: expected 2 tab-separated fields"),
        ("file_name\tcdn_link\nsav_000.tar\tftp://h/x\n", "not an http(s) URL"),
        ("file_name\tcdn_link\n../evil.tar\thttp://h/x\n", "unusable file name"),
        ("file_name\tcdn_link\na.tar\thttp://h/x\na.tar\thttp://h/y\n", "listed twice"),
    ],
)
def test_malformed_links_file(tmp_path, text, message, capsys):
    links = tmp_path / "links.txt"
    links.write_text(text)
    assert main(["download", str(links), str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(SavkitError, match="line|links file"):
        parse_links(text, "links.txt")


def test_only_selection_and_unknown_name(tmp_path, dataset, capsys):
    links = parse_links(
        "file_name\tcdn_link\n"
        + "".join(f"{n}\thttp://h/{n}\n" for n in dataset)
        + "extra.bin\thttp://h/e\n",
        "links",
    )
    checks = {"sav_sha256sum.chk", "sav_md5sum.chk"}
    assert {link.name for link in select(links, "train")} == {"sav_000.tar", "sav_001.tar"} | checks
    assert {link.name for link in select(links, "sav_001,sav_val")} == {"sav_001.tar", "sav_val.tar"} | checks
    assert {link.name for link in select(links, "checksums")} == checks
    assert len(select(links, None)) == 6
    with pytest.raises(SavkitError, match="no test files"):
        select(links, "test")
    with serve(dataset) as server:
        path = links_file(tmp_path / "links.txt", server, list(dataset))
        assert main(["download", str(path), str(tmp_path / "out"), "--only", "sav_999"]) == 2
        assert server.requests == []
    assert "unknown name 'sav_999'" in capsys.readouterr().err


def test_only_one_tar_and_keep_tars_no_extract(tmp_path, dataset):
    report, _ = _run(tmp_path, dataset, only="sav_val", keep_tars=True)
    out = tmp_path / "out"
    assert (out / "sav_val.tar").read_bytes() == dataset["sav_val.tar"].read_bytes()
    assert (out / "sav_val" / "sav_val.txt").exists() and not (out / "sav_train").exists()
    report, _ = _run(tmp_path, dataset, only="sav_000", extract=False)
    assert (out / "sav_000.tar").read_bytes() == dataset["sav_000.tar"].read_bytes()
    assert not (out / "sav_train").exists()
    # a later run with extraction unpacks the verified tar without fetching it again
    report, server = _run(tmp_path, dataset, only="sav_000")
    assert server.gets("sav_000.tar") == [] and (out / "sav_train/sav_000/sav_000001.mp4").exists()
    assert not (out / "sav_000.tar").exists()


def test_unsafe_members_refused_with_warning(tmp_path, dataset):
    evil = tmp_path / "srv" / "sav_test.tar"
    with tarfile.open(evil, "w") as archive:
        _add(archive, "sav_test/ok.txt", b"fine")
        _add(archive, "../escape.txt", b"x")
        _add(archive, "sav_test/../../escape2.txt", b"x")
        _add(archive, "/tmp/savkit-absolute.txt", b"x")
        _add(archive, "sav_test/link", kind=tarfile.SYMTYPE, link="../../outside")
        _add(archive, "sav_test/abslink", kind=tarfile.SYMTYPE, link="/etc/passwd")
        _add(archive, "sav_test/inlink", kind=tarfile.SYMTYPE, link="ok.txt")
        _add(archive, "sav_test/hard", kind=tarfile.LNKTYPE, link="/etc/passwd")
        _add(archive, "sav_test/dev", kind=tarfile.CHRTYPE)
        _add(archive, "sav_test/fifo", kind=tarfile.FIFOTYPE)
    files = {"sav_test.tar": evil}
    report, _ = _run(tmp_path, files, names=["sav_test.tar"])
    out = tmp_path / "out"
    assert report.ok
    assert (out / "sav_test" / "ok.txt").read_bytes() == b"fine"
    assert os.readlink(out / "sav_test" / "inlink") == "ok.txt"
    refused = [w for w in report.warnings if "refused tar member" in w]
    assert len(refused) == 8, refused
    for name in (
        "../escape.txt",
        "/tmp/savkit-absolute.txt",
        "sav_test/link",
        "sav_test/dev",
        "sav_test/fifo",
    ):
        assert any(repr(name) in w for w in refused), name
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/savkit-absolute.txt").exists()
    assert sorted(p.name for p in (out / "sav_test").iterdir()) == ["inlink", "ok.txt"]


def test_existing_user_file_is_never_replaced(tmp_path, dataset):
    user = tmp_path / "out" / "sav_val" / "sav_val.txt"
    user.parent.mkdir(parents=True)
    user.write_text("mine")
    report, _ = _run(tmp_path, dataset, only="sav_val")
    assert user.read_text() == "mine"
    [result] = [r for r in report.files if r.name == "sav_val.tar"]
    assert result.status == "failed" and "did not write it" in result.reason
    user.unlink()
    report, server = _run(tmp_path, dataset, only="sav_val")
    # the verified tar was kept: not fetched again (its size asked for with a range past its end: no body)
    size = dataset["sav_val.tar"].stat().st_size
    assert report.ok and [r.range for r in server.gets("sav_val.tar")] == [f"bytes={size}-"]
    assert user.read_text() == "sav_000010\n"


def test_progress_callbacks_add_up(tmp_path, dataset):
    class Recorder(DownloadProgress):
        def __init__(self):
            self.total = self.done = self.advanced_bytes = 0
            self.ended = []

        def planned(self, files, total_bytes, done_bytes):
            self.total, self.done = total_bytes, done_bytes

        def advanced(self, name, count):
            self.advanced_bytes += count

        def file_ended(self, name):
            self.ended.append(name)

    recorder = Recorder()
    _run(tmp_path, dataset, progress=recorder)
    assert recorder.total == sum(p.stat().st_size for p in dataset.values()) == recorder.advanced_bytes
    assert sorted(recorder.ended) == sorted(dataset)


def test_not_enough_disk_space(tmp_path, dataset, monkeypatch, capsys):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with serve(dataset) as server:
        links = links_file(tmp_path / "links.txt", server, list(dataset))
        assert main(["download", str(links), str(tmp_path / "out")]) == 2
        assert all(r.method == "HEAD" for r in server.requests)
    assert "GB free" in capsys.readouterr().err


def test_one_file_takes_its_size_from_its_own_get(tmp_path, dataset):
    report, server = _run(tmp_path, dataset, names=["sav_000.tar"])
    assert report.ok and [(r.method, r.range) for r in server.requests] == [("GET", None)]
    assert set(_tree(tmp_path / "out")) == {n for n in EXPECTED_FILES if n.startswith("sav_train/sav_000/")}


def test_one_file_not_enough_disk_space_reads_no_byte(tmp_path, dataset, monkeypatch, capsys):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with serve(dataset) as server:
        links = links_file(tmp_path / "links.txt", server, ["sav_000.tar"])
        assert main(["download", str(links), str(tmp_path / "out")]) == 2
        assert [r.method for r in server.requests] == ["GET"]
    assert "GB free" in capsys.readouterr().err
    assert not list(tmp_path.joinpath("out").rglob("*.part"))  # the body was never read


def test_one_file_refused_or_failing_before_its_body(tmp_path, dataset, capsys):
    with serve(dataset) as server:
        server.faults["sav_000.tar"] = [Fault("status", status=403)]
        links = links_file(tmp_path / "links.txt", server, ["sav_000.tar"])
        # as a refused HEAD: exit 2, nothing fetched
        assert main(["download", str(links), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HTTP 403" in err[0] and "fresh links file" in err[0]
    report, server = _run(
        tmp_path, dataset, faults={"sav_000.tar": [Fault("status", status=500)]}, names=["sav_000.tar"]
    )
    assert report.ok and [r.range for r in server.gets("sav_000.tar")] == [None, None]


def test_one_file_stale_part_of_another_size_starts_over(tmp_path, dataset):
    state = tmp_path / "out" / ".savkit-download"
    state.mkdir(parents=True)
    (state / "sav_000.tar.part").write_bytes(b"x" * 5000)
    (state / "sav_000.tar.part.json").write_text('{"size": 123}')
    report, server = _run(tmp_path, dataset, names=["sav_000.tar"])
    assert report.ok and [r.range for r in server.gets("sav_000.tar")] == ["bytes=5000-", None]
    with tarfile.open(dataset["sav_000.tar"]) as archive:
        want = archive.extractfile("sav_train/sav_000/sav_000001.mp4").read()
    assert (tmp_path / "out/sav_train/sav_000/sav_000001.mp4").read_bytes() == want


def test_kill_9_then_rerun_resumes_with_range(tmp_path, dataset):
    big = tmp_path / "srv" / "sav_002.tar"
    _sav_tar(big, [("sav_train/sav_002/sav_000003.mp4", _payload(5, 1_500_000))])
    files = {"sav_002.tar": big}
    out = tmp_path / "out"
    with serve(files, rate=2_000_000) as server:
        links = links_file(tmp_path / "links.txt", server, ["sav_002.tar"])
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
        child = subprocess.Popen(
            [sys.executable, "-m", "savkit", "download", str(links), str(out), "-q"], env=env
        )
        part = out / ".savkit-download" / "sav_002.tar.part"
        deadline = time.monotonic() + 20
        while not (part.exists() and part.stat().st_size > 300_000) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert 300_000 < part.stat().st_size < big.stat().st_size
        server.rate = None
        report = download(links, out, policy=FAST)
        gets = server.gets("sav_002.tar")
    assert report.ok
    assert gets[0].range is None and gets[-1].range == f"bytes={part_size_at_resume(gets)}-"
    clean = tmp_path / "clean"
    with serve(files) as server:
        download(links_file(tmp_path / "links2.txt", server, ["sav_002.tar"]), clean, policy=FAST)
    assert _tree(out) == _tree(clean) and set(_tree(out)) == {"sav_train/sav_002/sav_000003.mp4"}


def part_size_at_resume(gets) -> int:
    start = int(gets[-1].range.removeprefix("bytes=").rstrip("-"))
    assert start > 300_000
    return start


def test_one_run_at_a_time_per_out(tmp_path, dataset):
    from savkit.io.lock import locked_folder

    with locked_folder(tmp_path / "out"), pytest.raises(SavkitError, match="in use by another savkit run"):
        _run(tmp_path, dataset)
    report, _ = _run(tmp_path, dataset)
    assert report.ok
