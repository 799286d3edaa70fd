"""Atomic outputs: all or nothing, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest

from savkit.io.atomic import atomic_dir, atomic_path, write_text_atomic


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_file_appears_complete_with_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    write_text_atomic(target, "hello")
    assert target.read_text() == "hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_directory_replaced_only_on_success(tmp_path):
    target = tmp_path / "video"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~current_umask()
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video"]


def test_directory_with_a_fixed_temporary_clears_a_killed_runs_leftover(tmp_path):
    target, temporary = tmp_path / "video", tmp_path / ".video.partial"
    temporary.mkdir()
    (temporary / "half.jpg").write_bytes(b"half")
    with atomic_dir(target, temporary=temporary) as tmp:
        assert tmp == temporary and list(tmp.iterdir()) == []
        (tmp / "a.jpg").write_bytes(b"whole")
    assert sorted(p.name for p in target.iterdir()) == ["a.jpg"]
    assert not temporary.exists()
