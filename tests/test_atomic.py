"""Atomic outputs: all or nothing, with ordinary permissions."""

from __future__ import annotations

import errno
import os
import pickle
import stat
from pathlib import Path

import pytest

import savkit.io.atomic
from savkit.errors import SavkitError
from savkit.io.atomic import (
    CannotWrite,
    atomic_dir,
    atomic_path,
    check_inside,
    remove_inside,
    write_text_atomic,
)


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


def test_a_folder_that_cannot_be_renamed_into_place_leaves_the_old_one(tmp_path, monkeypatch):
    """The old output is moved aside, not deleted, until the new one is in place: a failed rename puts it back."""
    target = tmp_path / "video"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("old")
    real_replace = os.replace

    def failing_replace(source, destination):
        if Path(destination) == target:
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(source))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SavkitError, match=f"cannot write {target} "), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video"]  # nothing aside or temporary is left
    monkeypatch.setattr(os, "replace", real_replace)
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
    assert (target / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["video"]


def test_directory_with_a_fixed_temporary_clears_a_killed_runs_leftover(tmp_path):
    target, temporary = tmp_path / "video", tmp_path / ".video.partial"
    temporary.mkdir()
    (temporary / "half.jpg").write_bytes(b"half")
    with atomic_dir(target, temporary=temporary) as tmp:
        assert tmp == temporary and list(tmp.iterdir()) == []
        (tmp / "a.jpg").write_bytes(b"whole")
    assert sorted(p.name for p in target.iterdir()) == ["a.jpg"]
    assert not temporary.exists()


NO_SPACE = (errno.ENOSPC, "No space left on device")


def cannot_write_message(target, reason: str) -> str:
    return (
        f"cannot write {target} ({reason}); nothing was written: check the folder's permissions and free space, "
        "or choose another output folder"
    )


@pytest.mark.parametrize("temporary", [None, ".video.partial"])
def test_an_error_naming_the_temporary_folder_names_the_output(tmp_path, monkeypatch, temporary):
    """A full disk or a read-only folder met while a folder is written: the user is told about the folder they asked
    for, not savkit's temporary, whether a file in it or the folder's rename failed."""
    target = tmp_path / "video"
    target.mkdir()
    (target / "old.jpg").write_bytes(b"old")
    fixed = None if temporary is None else tmp_path / temporary

    def a_file_in_it(tmp):
        (tmp / "00000.jpg").write_bytes(b"x")
        raise OSError(*NO_SPACE, str(tmp / "00004.jpg"))

    def a_file_written_atomically_in_it(tmp):
        atomic_file_refused(tmp / "000" / "00000.png", monkeypatch)

    for fail in (a_file_in_it, a_file_written_atomically_in_it):
        with pytest.raises(SavkitError) as raised, atomic_dir(target, temporary=fixed) as tmp:
            fail(tmp)
        monkeypatch.undo()
        assert str(raised.value) == cannot_write_message(target, "No space left on device"), fail.__name__
        assert sorted(p.name for p in tmp_path.iterdir()) == ["video"] and os.listdir(target) == ["old.jpg"]

    def refuse_rename(src, dst):
        raise OSError(errno.EACCES, "Permission denied", src, None, dst)

    monkeypatch.setattr(savkit.io.atomic.os, "replace", refuse_rename)
    with pytest.raises(SavkitError) as raised, atomic_dir(target, temporary=fixed):
        pass
    monkeypatch.undo()
    assert str(raised.value) == cannot_write_message(target, "Permission denied")
    assert [p.name for p in tmp_path.iterdir() if p.name != "video"] == []  # no temporary left
    other = tmp_path / "input.mp4"
    with pytest.raises(FileNotFoundError) as not_ours, atomic_dir(target, temporary=fixed):
        other.read_bytes()  # about another file: left as it is
    assert not_ours.value.filename == str(other)


def atomic_file_refused(path, monkeypatch):
    """A file written with atomic_path inside the folder, on a full disk: its temporary cannot be made."""
    path.parent.mkdir()

    def refuse(suffix="", prefix="tmp", dir=None, text=False):
        raise OSError(*NO_SPACE, os.path.join(dir, f"{prefix}a1b2c3d4{suffix}"))

    monkeypatch.setattr(savkit.io.atomic.tempfile, "mkstemp", refuse)
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"x")


def test_a_temporary_folder_that_cannot_be_made_names_the_output(tmp_path, monkeypatch):
    target = tmp_path / "video"

    def refuse(suffix=None, prefix=None, dir=None):
        raise OSError(errno.EROFS, "Read-only file system", os.path.join(dir, f"{prefix}a1b2c3d4{suffix}"))

    monkeypatch.setattr(savkit.io.atomic.tempfile, "mkdtemp", refuse)
    with pytest.raises(SavkitError) as raised, atomic_dir(target):
        pass
    assert str(raised.value) == cannot_write_message(target, "Read-only file system")
    monkeypatch.undo()
    fixed = tmp_path / ".video.partial"
    real_mkdir = type(fixed).mkdir

    def refuse_mkdir(self, *args, **kwargs):
        if self == fixed:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(type(fixed), "mkdir", refuse_mkdir)
    with pytest.raises(SavkitError) as raised, atomic_dir(target, temporary=fixed):
        pass
    assert str(raised.value) == cannot_write_message(target, "Permission denied")
    assert not target.exists() and not fixed.exists()


def test_cannot_write_keeps_its_reason_across_processes():
    """A worker's error reaches the main process whole (pickled), its OSError with it."""
    error = pickle.loads(pickle.dumps(savkit.io.atomic.cannot_write(["out"], OSError(*NO_SPACE, "x"))))
    assert isinstance(error, CannotWrite) and str(error).startswith(
        "cannot write out (No space left on device)"
    )
    assert (error.error.errno, error.error.filename) == (errno.ENOSPC, "x")


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
