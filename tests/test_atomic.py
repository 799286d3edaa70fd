"""Atomic outputs: all or nothing, with ordinary permissions."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from savkit.errors import SavkitError
from savkit.io.atomic import atomic_dir, atomic_path, check_inside, remove_inside, write_text_atomic


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


def test_an_error_naming_the_temporary_names_the_output(tmp_path):
    """A read-only folder or a full disk met while writing: the user is told about the file they asked for."""
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(SavkitError) as raised, atomic_path(target) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert str(raised.value).startswith(
        f"cannot write {target} (No space left on device); nothing was written"
    )
    other = tmp_path / "input.bin"
    with pytest.raises(FileNotFoundError) as not_ours, atomic_path(target):
        other.read_bytes()  # about another file: left as it is
    assert not_ours.value.filename == str(other)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


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


def test_only_paths_inside_the_root_pass_the_deletion_guard(tmp_path):
    root = tmp_path / "out"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    assert check_inside(root / "v1", root) == root.resolve() / "v1"
    assert check_inside(root / "link", root) == root.resolve() / "link"  # the link itself, not its target
    for outside in (
        root / "..",
        root / ".",
        root,
        tmp_path / "x",
        root / "link" / "x",
        root / "a" / ".." / "..",
    ):
        with pytest.raises(SavkitError, match="savkit deletes and replaces only inside its output folder"):
            check_inside(outside, root)
    remove_inside(root / "link", root)
    assert (tmp_path / "elsewhere").is_dir() and not (root / "link").exists()


def test_a_directory_named_dot_dot_is_never_replaced(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SavkitError), atomic_dir(tmp_path / "out" / ".."):
        pass
    assert (tmp_path / "keep.txt").read_text() == "mine"
