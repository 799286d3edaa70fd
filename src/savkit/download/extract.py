"""Hashing and tar extraction that follow a file while it downloads, and the move of a verified extraction into OUT.

Both follow the ``.part`` file as it grows, so the checksum and the unpacking overlap the transfer and nothing is
read again afterwards. Members go to a temporary folder laid out as OUT will be; only after the checksum has verified
are they renamed into place. Unsafe members (absolute paths, ``..``, links leaving OUT, devices) are never written.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from savkit.download.fetch import CHUNK, PartFile, Stopped
from savkit.errors import SavkitError

if TYPE_CHECKING:
    import tarfile

STATE_DIR = ".savkit-download"


class Restarted(Exception):
    """The file being followed restarted from byte zero: hash and extraction start over."""


class GrowingFile:
    """A seekable read-only view of a :class:`PartFile` while it downloads: a read waits for its bytes."""

    def __init__(self, part: PartFile) -> None:
        self.part = part
        self.generation = part.generation
        self.position = 0
        self.fd = os.open(part.path, os.O_RDONLY | os.O_CREAT, 0o644)

    def wait_for(self, end: int) -> int:
        """Wait until the file holds ``end`` bytes (or is finished); return how many it holds."""
        return self.part.wait_for(end, self._check)

    def read(self, size: int = -1) -> bytes:
        # at most 16 MiB at once: tarfile reads a pax or long-name header whole, and a hostile one may claim GBs
        size = CHUNK if size is None or size < 0 else min(size, 16 * CHUNK)
        available = self.wait_for(self.position + size)
        data = os.pread(self.fd, max(0, min(size, available - self.position)), self.position)
        self.position += len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET:
            raise OSError("only absolute seeks on a file being downloaded")
        self.position = offset
        return offset

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> GrowingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check(self) -> None:
        if self.part.generation != self.generation:
            raise Restarted()
        if self.part.aborted:
            raise Stopped()


def hash_part(part: PartFile, algorithm: str) -> str:
    """Hash the file as it arrives, every byte once, in order."""
    hasher = hashlib.new(algorithm)
    with GrowingFile(part) as source:
        while data := source.read(CHUNK):
            hasher.update(data)
    return hasher.hexdigest()


class MemberFilter:
    """Maps a tar member's path to its place under OUT and refuses the unsafe ones (with a warning)."""

    def __init__(self, tar_name: str, root: tuple[str, ...], warn: Callable[[str], None]) -> None:
        self.tar_name, self.root, self.warn = tar_name, root, warn
        self.refused = 0

    def destination(self, name: str, warn: bool = True) -> str | None:
        """The member's path relative to OUT (POSIX), or None when it is refused (or is the archive's ``.``)."""
        parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", name):
            return self.refuse(name, "absolute path") if warn else None
        if ".." in parts:
            return self.refuse(name, "'..' in its path") if warn else None
        if not parts:
            return None
        return "/".join(self._placed(parts))

    def _placed(self, parts: list[str]) -> list[str]:
        """SA-V layout: a train tar's ``sav_train/sav_003/x``, ``sav_003/x`` and ``x`` all land in
        ``sav_train/sav_003/x``; ``sav_val/x`` and ``x`` in ``sav_val/x`` (the tar's own paths kept)."""
        if parts[0] == self.root[0]:
            return parts
        if parts[0] == self.root[-1]:
            return [*self.root[:-1], *parts]
        return [*self.root, *parts]

    def link_target_inside(self, destination: str, linkname: str) -> bool:
        """A symlink stays inside OUT: relative, and resolving from its own folder to a path under OUT."""
        if linkname.startswith("/") or not linkname:
            return False
        target = posixpath.normpath(posixpath.join(posixpath.dirname(destination), linkname))
        return not (target == ".." or target.startswith("../") or target.startswith("/"))

    def refuse(self, name: str, why: str) -> None:
        self.refused += 1
        self.warn(f"{self.tar_name}: refused tar member {name!r} ({why}): not written")
        return None


def extract_stream(part: PartFile, temp: Path, members: MemberFilter) -> int:
    """Unpack the tar being downloaded into ``part`` into ``temp``; return the number of members written.

    tarfile reads only the headers (seeking over the data); file contents are copied by the kernel from the part
    file (``copy_file_range``) as they arrive, so the unpacking keeps up with the transfer.
    """
    import tarfile  # here: a fetch without unpacking does not need it

    written = 0
    with GrowingFile(part) as source, tarfile.open(fileobj=source, mode="r:") as archive:
        while (member := archive.next()) is not None:
            archive.members.clear()  # bounded memory whatever the number of members
            destination = members.destination(member.name)
            if destination is None:
                continue
            if destination.split("/")[0] == STATE_DIR:
                members.refuse(member.name, "savkit's own state folder")
                continue
            written += _extract_member(source, member, destination, temp, members)
    return written


def _extract_member(
    source: GrowingFile,
    member: tarfile.TarInfo,
    destination: str,
    temp: Path,
    members: MemberFilter,
) -> int:
    path = temp / destination
    if not _inside(path.parent, temp):
        members.refuse(member.name, "its folder is a link leaving OUT")
        return 0
    if member.isdir():
        path.mkdir(parents=True, exist_ok=True)
        return 1
    if member.isfile():
        _replace_with(path)
        _copy_member(source, member, path, member.mode & 0o777)  # os.open applies the umask, as tar -x
        os.utime(path, (member.mtime, member.mtime))
        return 1
    if member.issym():
        if not members.link_target_inside(destination, member.linkname):
            members.refuse(member.name, f"a link to {member.linkname!r}, outside OUT")
            return 0
        _replace_with(path)
        os.symlink(member.linkname, path)
        return 1
    if member.islnk():
        target = members.destination(member.linkname, warn=False)
        link_source = temp / target if target else None
        if (
            link_source is None
            or not link_source.is_file()
            or link_source.is_symlink()
            or not _inside(link_source, temp)
        ):
            members.refuse(
                member.name, f"a hard link to {member.linkname!r}, not a file extracted from this tar"
            )
            return 0
        _replace_with(path)
        os.link(link_source, path)
        return 1
    members.refuse(member.name, "a device, FIFO or other special file")
    return 0


def _replace_with(path: Path) -> None:
    """Make room for a member: a later member of the same name wins, as with tar -x (never following a link)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _copy_member(source: GrowingFile, member: tarfile.TarInfo, path: Path, mode: int) -> None:
    """Copy the member's bytes from the part file as they arrive (in the kernel where it can)."""
    position, end = member.offset_data, member.offset_data + member.size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        while position < end:
            available = min(end, source.wait_for(min(end, position + CHUNK)))
            if available <= position:
                from tarfile import ReadError

                raise ReadError(f"unexpected end of data in {member.name!r}")
            position += _copy_range(source.fd, fd, position, available - position)
    finally:
        os.close(fd)


def _copy_range(source: int, target: int, offset: int, count: int) -> int:
    try:
        copied = os.copy_file_range(source, target, count, offset)
    except OSError:  # a filesystem or kernel without it: copy through memory
        copied = 0
    if copied <= 0:
        data = os.pread(source, count, offset)
        view = memoryview(data)
        while view:
            view = view[os.write(target, view) :]
        copied = len(data)
    return copied


def _inside(path: Path, root: Path) -> bool:
    resolved, base = os.path.realpath(path), os.path.realpath(root)
    return resolved == base or resolved.startswith(base + os.sep)


def plan_placement(temp: Path, out: Path, root: tuple[str, ...], ours: bool = False) -> list[str]:
    """The paths (relative to OUT) to rename from ``temp`` into ``out``, merging into existing folders.

    The tar's own unit (``sav_train/sav_003``) is the largest folder moved at once, so that each tar's marker
    names what it placed. An existing file (or a file/folder clash) is a user's and is never replaced, unless
    ``ours`` says a killed earlier run of this same file put it there.
    """
    ancestors = {Path(*root[:depth]) for depth in range(1, len(root))}
    moves: list[str] = []
    pending = [Path()]
    while pending:
        relative = pending.pop()
        with os.scandir(temp / relative) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                child = relative / entry.name
                target = out / child
                is_dir = entry.is_dir(follow_symlinks=False)
                if not os.path.lexists(target) and not (is_dir and child in ancestors):
                    moves.append(child.as_posix())
                elif is_dir and (
                    not os.path.lexists(target) or (target.is_dir() and not target.is_symlink())
                ):
                    pending.append(child)
                elif ours:
                    moves.append(child.as_posix())
                else:
                    raise SavkitError(
                        f"{target} exists and savkit download did not write it: move it away and run again"
                    )
    return moves


def place(temp: Path, out: Path, moves: list[str]) -> None:
    """Rename each planned path into OUT (replacing only what :func:`plan_placement` allowed)."""
    for relative in moves:
        source, target = temp / relative, out / relative
        if not os.path.lexists(source):
            continue  # moved already by a run that was killed while placing
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        os.replace(source, target)
