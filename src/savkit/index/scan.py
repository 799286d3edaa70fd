"""Find every annotation source under a dataset root, with the (size, mtime_ns) that tells whether it changed.

A source is a train JSON (``{video_id}_manual.json`` / ``{video_id}_auto.json``) or a val/test video's
``Annotations_6fps/{video_id}`` folder. For a folder, size is the bytes of its PNGs and mtime_ns the newest
of its PNGs, its folders (a folder's mtime moves when an entry is added or removed) and its JPEG folder.
Only stat calls: nothing is opened. Hidden folders and JPEG frame folders are not walked.

A source that cannot even be stat'ed (a dangling or looping symlink, permission denied), or a folder that cannot
be listed, is recorded as a failure with its reason, as a source that cannot be read is, and the walk goes on
(only the root itself must be listable).

Two sources of the same video and type (a copy of ``sav_000001_manual.json`` in another folder) would make one
video with doubled masklet counts: the first path in sorted order is kept, the others reported as duplicates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from savkit.annotations.sav_json import parse_train_json_name
from savkit.annotations.valtest import ANNOTATIONS_DIR, JPEG_DIR, subfolders
from savkit.index.layout import JSON_SOURCE, PNG_SOURCE, Source
from savkit.io.files import unlistable, unreadable
from savkit.io.names import is_ignored_name


@dataclass(frozen=True)
class Duplicate:
    """A second source of an already found video and masklet type: ``skipped`` is left out, ``kept`` indexed."""

    video_id: str
    type: str
    kept: str
    skipped: str


@dataclass
class Scan:
    """Sources by relative path, the ids of the videos that have an mp4 anywhere under the root, duplicates, and
    the sources that could not be stat'ed (relative path, reason)."""

    sources: dict[str, Source] = field(default_factory=dict)
    mp4_ids: set[str] = field(default_factory=set)
    duplicates: list[Duplicate] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0  # hidden or system entries skipped (savkit.io.names)

    def failed(self, path: str) -> bool:
        """Whether the source at ``path`` failed, or lies in a folder that could not be listed: it is not known
        to be removed."""
        return any(path == failed or path.startswith(f"{failed}/") for failed, _ in self.failures)


def scan_root(root: Path) -> Scan:
    """Walk ``root`` once and collect its annotation sources and mp4 video ids."""
    scan = Scan()
    if root.name == ANNOTATIONS_DIR:
        _add_valtest_videos(scan, root, root)
    else:
        _walk(scan, root)
    _drop_duplicates(scan)
    return scan


def _walk(scan: Scan, root: Path) -> None:
    folders, seen = [root], set()
    while folders:
        folder = folders.pop()
        try:
            folders += _list_folder(scan, root, folder, seen)
        except OSError as exc:  # permission denied, a folder removed meanwhile
            _add_unlistable(scan, root, folder, exc)


def _list_folder(scan: Scan, root: Path, folder: Path, seen: set[tuple[int, int]]) -> list[Path]:
    """Record the sources and mp4s in ``folder``; return its subfolders to walk."""
    folder_stat = folder.stat()
    identity = (folder_stat.st_dev, folder_stat.st_ino)
    if identity in seen:  # a symlinked folder met twice (or a symlink loop)
        return []
    seen.add(identity)
    subfolders = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if is_ignored_name(entry.name):
                scan.ignored += 1
                continue
            if _is_folder(entry):
                if entry.name == ANNOTATIONS_DIR:
                    _add_valtest_videos(scan, root, Path(entry.path))
                elif entry.name != JPEG_DIR:
                    subfolders.append(Path(entry.path))
            elif entry.name.endswith(".mp4"):
                scan.mp4_ids.add(entry.name[: -len(".mp4")])
            elif _is_train_json(entry.name):
                _add_json(scan, root, entry)
    return subfolders


def _is_folder(entry: os.DirEntry) -> bool:
    """A folder or a link to one; a symlink loop is not (a JSON named so is reported when stat'ed)."""
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _drop_duplicates(scan: Scan) -> None:
    """Keep one source per (video id, masklet type): the first path in sorted order."""
    owners: dict[tuple[str, str], str] = {}
    for path in sorted(scan.sources):
        video = _video_and_type(scan.sources[path])
        if video in owners:
            scan.duplicates.append(Duplicate(*video, kept=owners[video], skipped=path))
            del scan.sources[path]
        else:
            owners[video] = path


def _video_and_type(source: Source) -> tuple[str, str]:
    name = source.path.rsplit("/", 1)[-1]
    return parse_train_json_name(name) if source.kind == JSON_SOURCE else (name, "manual")


def _is_train_json(name: str) -> bool:
    """A ``{video_id}_{type}.json`` name with a non-empty video id."""
    parsed = parse_train_json_name(name)
    return parsed is not None and parsed[0] != ""


def _add_json(scan: Scan, root: Path, entry: os.DirEntry) -> None:
    try:
        stat = entry.stat()
    except OSError as exc:
        _add_failure(scan, root, Path(entry.path), exc)
        return
    _add(scan, root, Path(entry.path), JSON_SOURCE, stat.st_size, stat.st_mtime_ns)


def _add(scan: Scan, root: Path, path: Path, kind: str, size: int, mtime_ns: int) -> None:
    relative = path.relative_to(root).as_posix()
    scan.sources[relative] = Source(relative, kind, size, mtime_ns)


def _add_unlistable(scan: Scan, root: Path, folder: Path, exc: OSError) -> None:
    """A folder of the walk that cannot be listed: a failure, unless it is the root itself (nothing to index)."""
    if folder == root:
        raise unlistable(root, exc) from None
    _add_failure(scan, root, folder, exc)


def _add_failure(scan: Scan, root: Path, path: Path, exc: OSError) -> None:
    """A source that cannot be stat'ed or a folder that cannot be listed, with the reason its reading would give
    (``savkit.io.files``)."""
    failed = Path(exc.filename) if exc.filename is not None else path
    describe = unlistable if failed.is_dir() else unreadable
    scan.failures.append((path.relative_to(root).as_posix(), str(describe(failed, exc))))


def _add_valtest_videos(scan: Scan, root: Path, annotations_dir: Path) -> None:
    jpeg_dir = annotations_dir.parent / JPEG_DIR
    try:
        video_dirs = subfolders(annotations_dir)
    except OSError as exc:
        _add_unlistable(scan, root, annotations_dir, exc)
        return
    for video_dir in video_dirs:
        # A dangling or looping PNG symlink, a file it may not stat, a folder it may not list: a failure.
        try:
            size, mtime_ns = _folder_fingerprint(video_dir, jpeg_dir / video_dir.name)
        except OSError as exc:
            _add_failure(scan, root, video_dir, exc)
            continue
        _add(scan, root, video_dir, PNG_SOURCE, size, mtime_ns)


def _folder_fingerprint(video_dir: Path, jpeg_dir: Path) -> tuple[int, int]:
    """(bytes of the PNGs, newest mtime_ns of the PNGs, their folders and the video's JPEG folder)."""
    size, mtime_ns = 0, video_dir.stat().st_mtime_ns
    if jpeg_dir.is_dir():
        mtime_ns = max(mtime_ns, jpeg_dir.stat().st_mtime_ns)
    for dirpath, _, filenames in os.walk(video_dir, onerror=_raise):
        mtime_ns = max(mtime_ns, os.stat(dirpath).st_mtime_ns)
        for name in filenames:
            if name.endswith(".png"):
                stat = os.stat(os.path.join(dirpath, name))
                size, mtime_ns = size + stat.st_size, max(mtime_ns, stat.st_mtime_ns)
    return size, mtime_ns


def _raise(exc: OSError) -> None:
    """os.walk's ``onerror``: a folder it cannot list fails the fingerprint (os.walk would skip it silently)."""
    raise exc
