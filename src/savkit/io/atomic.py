"""Atomic outputs: write under a temporary name in the same folder, then rename.

A reader (or a resumed run) therefore sees either the complete old file/folder or the complete new one,
never a partial write. Every path removed or replaced here is first checked to lie inside the output folder
(``check_inside``): a name from a hostile input can never make savkit delete anything else.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from savkit.errors import SavkitError

#: The names ``atomic_path`` / ``atomic_dir`` give their temporaries: ``.{name}.`` + tempfile's 8 random characters
#: + ``.tmp``. A killed run leaves them behind; the next run clears them under the folder's lock (``parallel``).
_TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp create private (0600/0700) entries; a finished output gets the usual permissions.
_FILE_MODE = 0o666 & ~_current_umask()
_DIR_MODE = 0o777 & ~_current_umask()


def check_inside(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """``path`` (its folder resolved, its own name kept: a symlink is itself, not its target) if it lies strictly
    inside ``root``, else a SavkitError: the guard before savkit deletes or replaces anything."""
    path = Path(path)
    resolved = path.parent.resolve() / path.name
    if path.name in ("", ".", "..") or Path(root).resolve() not in resolved.parents:
        raise SavkitError(
            f"{path} is not inside {root}: savkit deletes and replaces only inside its output folder"
        )
    return resolved


def remove_inside(path: str | os.PathLike, root: str | os.PathLike) -> None:
    """Delete the file, symlink or folder ``path`` (if present) after checking that it lies inside ``root``."""
    path = check_inside(path, root)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def is_temporary_name(name: str) -> bool:
    """True for the name of a temporary made by ``atomic_path`` / ``atomic_dir`` (random-named)."""
    return _TEMPORARY_NAME.fullmatch(name) is not None


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    outputs: Sequence[str | os.PathLike] = (),
) -> Iterator[Path]:
    """Yield a temporary file path beside ``path``; rename it onto ``path`` only if the block succeeds.

    ``root`` (default: the folder of ``path``) is the folder ``path`` must lie inside. An OSError naming the
    temporary (it cannot be created, written or renamed: a read-only folder, a full disk) is a SavkitError naming
    the output instead (``outputs``, default ``path``): the user never sees savkit's temporary name.
    """
    target = Path(path)
    check_inside(target, target.parent if root is None else root)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise cannot_write(outputs or [target], exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        os.replace(tmp_path, target)
    except OSError as exc:
        if not _is_about(exc, tmp_path):
            raise
        raise cannot_write(outputs or [target], exc) from None
    finally:
        tmp_path.unlink(missing_ok=True)


class CannotWrite(SavkitError):
    """Outputs that cannot be written; ``error`` is the OSError, so that an enclosing :func:`atomic_dir` can name
    its own output instead of a file in its temporary folder."""

    def __init__(self, message: str, error: OSError | None = None) -> None:
        super().__init__(message)
        self.error = error


def cannot_write(outputs: Sequence[str | os.PathLike], exc: OSError) -> CannotWrite:
    """The error of outputs that cannot be written (read-only folder, full disk...), named by the outputs the user
    asked for, never by a temporary name; what is atomic was left as it was."""
    names = " and ".join(str(path) for path in outputs)
    return CannotWrite(
        f"cannot write {names} ({exc.strerror or exc}); nothing was written: "
        "check the folder's permissions and free space, or choose another output folder",
        exc,
    )


def _is_about(exc: OSError, path: Path) -> bool:
    """Whether ``exc`` names ``path`` or something inside it (either of the two names a rename error has)."""
    where = os.path.abspath(path)
    for name in (exc.filename, exc.filename2):
        if isinstance(name, (str, bytes, os.PathLike)):
            named = os.path.abspath(os.fsdecode(name))
            if named == where or named.startswith(where + os.sep):
                return True
    return False


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike,
    temporary: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only if the block succeeds.

    An existing ``path`` is moved aside just before the rename and deleted only once the new folder is in place, so
    a failure leaves the old one untouched.
    ``temporary`` fixes the temporary folder's name (one left behind by a killed run is cleared first), so that
    resuming never has to search a large folder for leftovers; by default the name is fresh and random.
    ``root`` (default: the folder of ``path``) is the folder both must lie inside. An OSError naming the temporary
    folder or a file in it (it cannot be created, written or renamed: a read-only folder, a full disk), or a
    :class:`CannotWrite` of a file in it, is a SavkitError naming ``path`` instead, as for :func:`atomic_path`.
    """
    target = Path(path)
    root = target.parent if root is None else root
    check_inside(target, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp_path = _new_temporary_dir(target, temporary, root)
    except OSError as exc:
        raise cannot_write([target], exc) from None
    try:
        yield tmp_path
        os.chmod(tmp_path, _DIR_MODE)
        _put_in_place(tmp_path, target, root)
    except OSError as exc:
        if not _is_about(exc, tmp_path):
            raise
        raise cannot_write([target], exc) from None
    except CannotWrite as error:  # a file written atomically in the folder
        if error.error is None or not _is_about(error.error, tmp_path):
            raise
        raise cannot_write([target], error.error) from None
    finally:
        if tmp_path.exists():
            with contextlib.suppress(OSError):  # cleaning up must not hide the block's own error
                remove_inside(tmp_path, root)


def _put_in_place(new: Path, target: Path, root: str | os.PathLike) -> None:
    """Rename the folder ``new`` to ``target``. What is at ``target`` is first renamed aside (a temporary name
    beside it, which a later run's clean-up recognises) and deleted only once ``new`` is in place; if that rename
    fails, it is renamed back: a failure never loses the old output."""
    if not os.path.lexists(target):
        os.replace(new, target)
        return
    aside = check_inside(target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp", root)
    os.rename(target, aside)
    try:
        os.replace(new, target)
    except OSError:
        os.rename(aside, target)
        raise
    remove_inside(aside, root)


def _new_temporary_dir(target: Path, temporary: str | os.PathLike | None, root: str | os.PathLike) -> Path:
    """The empty temporary folder of :func:`atomic_dir`: fresh and random, or ``temporary`` cleared and made."""
    if temporary is None:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp_path = Path(temporary)
    remove_inside(tmp_path, root)
    tmp_path.mkdir()
    return tmp_path


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary paths beside related ``paths`` (results.csv and results.json); all are renamed into place only
    once the block has written every one, so a failure to write one leaves none (and the old files untouched).

    A folder at a target path is refused before anything is written (a rename onto it would fail halfway).
    """
    folders = [Path(path) for path in paths if Path(path).is_dir()]
    if folders:
        raise SavkitError(f"{folders[0]} is a folder: remove it or choose another output path")
    try:
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(atomic_path(path, outputs=paths)) for path in paths]
    except OSError as exc:  # read-only or full disk...: named by the outputs, not by a temporary name
        raise cannot_write(paths, exc) from None


def write_texts_atomic(texts: dict[str | os.PathLike, str]) -> None:
    """Write related text files (UTF-8) together: all of them, or none (see :func:`atomic_paths`). Names read from
    non-UTF-8 file names (surrogate escapes) are written back as their original bytes."""
    with atomic_paths(*texts) as temporaries:
        for tmp, text in zip(temporaries, texts.values(), strict=True):
            tmp.write_bytes(text.encode("utf-8", "surrogateescape"))


def check_output_folder(path: str | os.PathLike, flag: str) -> None:
    """Refuse, before any work is done, an output folder that could not be written: a file stands at ``path`` or
    at one of its parents, or the nearest existing folder refuses a new file (probed with an unnamed temporary
    file, which leaves nothing behind). ``flag`` names the option in the message."""
    folder = Path(path)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == folder else f"cannot be created: {existing} is a file"
        raise SavkitError(f"{flag} {folder} {where}, not a folder: give a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise SavkitError(
            f"{flag} {folder}: cannot write in {existing} ({exc.strerror or exc}): "
            "check its permissions or choose another output folder"
        ) from None


def check_output_file(path: str | os.PathLike, flag: str) -> None:
    """Refuse, before any work is done, an output file path that is a folder or whose folder cannot be written
    (see :func:`check_output_folder`)."""
    target = Path(path)
    if target.is_dir():
        raise SavkitError(f"{flag} {target} is a folder: give a file path, such as {target / 'results.json'}")
    check_output_folder(target.parent, flag)
