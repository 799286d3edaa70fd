"""Reading input files safely: only regular files, so that a FIFO, a device or a folder where a JSON or an image
is expected is a clear error instead of a hang (opening a FIFO waits for a writer; /dev/zero never ends)."""

from __future__ import annotations

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
        raise SavkitError(f"{path}: cannot read ({exc.strerror}); check the file") from None
    finally:
        os.close(fd)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _regular_fd(path: str | os.PathLike) -> int:
    """A blocking read-only descriptor of ``path`` if it is a regular file, else a SavkitError.

    The file is opened non-blocking, so that a FIFO does not wait for a writer, then checked with ``fstat`` (no race
    between the check and the open), then switched back to blocking reads.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SavkitError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise SavkitError(f"{path}: cannot read ({exc.strerror}); check the file") from None
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
