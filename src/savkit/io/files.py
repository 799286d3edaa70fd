"""Reading input files safely: only regular files, so that a FIFO, a device or a folder where a JSON or an image
is expected is a clear error instead of a hang (opening a FIFO waits for a writer; /dev/zero never ends)."""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from savkit.errors import SavkitError

_MAX_READ = 0x7FFFF000  # Linux returns at most this from one read()
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks followed); else a SavkitError."""
    return os.fdopen(_regular_fd(path), "rb")


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`); an unreadable file is a SavkitError."""
    fd = _regular_fd(path)
    try:
        pieces, want = [], os.fstat(fd).st_size + 1  # one read for a whole file that does not grow meanwhile
        while piece := os.read(fd, want):
            pieces.append(piece)
            if len(piece) < want <= _MAX_READ:  # a short read below Linux's cap on one read: the end
                break
            want = 1 << 20
    except OSError as exc:
        raise unreadable(path, exc) from None
    finally:
        os.close(fd)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def unreadable(path: str | os.PathLike, exc: OSError) -> SavkitError:
    """The error of an input file that cannot be opened or read (missing, a dangling or looping symlink,
    permission denied): one wording for every reader and discovery."""
    if isinstance(exc, FileNotFoundError):
        if os.path.islink(path):
            return SavkitError(
                f"{path}: a dangling symlink (its target does not exist); fix or remove the link"
            )
        return SavkitError(f"{path}: no such file; check the path")
    if exc.errno == errno.ELOOP:
        return SavkitError(
            f"{path}: a symlink loop (too many levels of symbolic links); fix or remove the link"
        )
    return SavkitError(f"{path}: cannot read ({exc.strerror}); check the file")


def unlistable(path: str | os.PathLike, exc: OSError) -> SavkitError:
    """The error of a folder that cannot be listed (permission denied...); a dangling or looping link is worded
    as by :func:`unreadable`."""
    if isinstance(exc, FileNotFoundError) or exc.errno == errno.ELOOP:
        return unreadable(path, exc)
    return SavkitError(f"{path}: cannot list the folder ({exc.strerror}); check its permissions")


def _regular_fd(path: str | os.PathLike) -> int:
    """A blocking read-only descriptor of ``path`` if it is a regular file, else a SavkitError.

    The file is opened non-blocking, so that a FIFO does not wait for a writer, then checked with ``fstat`` (no race
    between the check and the open), then switched back to blocking reads.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise SavkitError(f"{path}: {kind}, not a regular file; pass the file itself")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd
