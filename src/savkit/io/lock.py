"""One savkit run per output folder: a lock file ``.savkit-lock`` naming its holder (pid, host, command).

The lock is an ``flock`` on that file, so the kernel releases it when the holder dies, however it dies: a lock
file left by a killed run is simply taken over, and the file's content only names the holder in the refusal. Where the
file system has no locks (or ``fcntl`` is missing), the content decides: a holder on this host whose pid is gone
is stale and taken over; any other holder is respected.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from savkit.errors import SavkitError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".savkit-lock"


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Create ``folder`` if needed and hold its lock for the block; a held lock is a SavkitError naming the holder.

    The lock file is removed when the block ends (and ``folder`` too if this call created it and it stayed
    empty: a run refused for bad input leaves nothing behind); a killed holder leaves the lock file, and the next
    run takes it over.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SavkitError(f"{folder} is a file: pass a folder for the output")
    created = not folder.exists()
    path = folder / LOCK_NAME
    fd = _open_locked(path)
    try:
        _write(fd, json.dumps(_holder()))
        yield folder
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before closing: whoever opens the path next creates a new lock file
        os.close(fd)  # closing releases the flock
        if created:
            with contextlib.suppress(OSError):  # not empty: the run wrote into it
                folder.rmdir()


def _open_locked(path: Path) -> int:
    """Open ``path`` and lock it; retried when the file was replaced meanwhile (a holder removes it on release,
    so a lock taken on the removed file would lock nothing)."""
    for _ in range(100):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise SavkitError(
                f"cannot lock {path.parent}: {exc.strerror}; check that the folder is writable"
            ) from None
        if not _acquire(fd):
            holder = _read_holder(fd)
            os.close(fd)
            raise SavkitError(
                f"{path.parent} is in use by another savkit run ({_describe(holder)}): "
                "wait for it to finish or choose another output folder"
            )
        if _same_file(fd, path):
            return fd
        os.close(fd)
    raise SavkitError(f"cannot lock {path.parent}: its lock file keeps changing; is another run starting?")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def _acquire(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        except OSError:  # no locks on this file system (some network mounts): fall back to the content
            pass
    return _is_stale(_read_holder(fd))


def _is_stale(holder: dict) -> bool:
    """No holder, or a holder on this host whose process is gone."""
    if not holder:
        return True
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False


def _holder() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:2]),
        "since": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def _describe(holder: dict) -> str:
    if not holder:
        return "holder not recorded yet"
    return f"{holder.get('command')}, pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('since')}"


def _read_holder(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096) or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
