"""The one place for the rules on names found on disk: which folder entries every discovery ignores, and which
video ids savkit accepts from file names (ids become output paths, so an unchecked id could point anywhere)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from savkit.errors import SavkitError

#: Entries made by operating systems and archivers, never data: macOS resource forks in zips.
IGNORED_NAMES = frozenset({"__MACOSX"})
#: savkit's own bookkeeping in a folder (.savkit-complete, .savkit-lock, .savkit-index, ...): skipped without a word
OWN_PREFIX = ".savkit"


def is_ignored_name(name: str) -> bool:
    """True for entries every discovery skips: hidden names (``.DS_Store``, AppleDouble ``._*``, savkit's own
    ``.savkit-complete`` and ``.{id}.partial``) and ``__MACOSX``."""
    return name.startswith(".") or name in IGNORED_NAMES


def is_own_name(name: str) -> bool:
    """True for savkit's own bookkeeping entries: ignored like every hidden name, but not counted as the user's."""
    return name.startswith(OWN_PREFIX)


def visible_entries(folder: str | os.PathLike) -> tuple[list[os.DirEntry], int]:
    """The entries of ``folder`` that are not ignored, sorted by name, and how many of the user's were ignored."""
    with os.scandir(folder) as scan:
        entries = list(scan)
    kept = sorted((e for e in entries if not is_ignored_name(e.name)), key=lambda e: e.name)
    own = sum(is_own_name(e.name) for e in entries)
    return kept, len(entries) - len(kept) - own


def has_ignored_part(path: Path, root: Path) -> bool:
    """True when any component of ``path`` below ``root`` is an ignored name."""
    return any(is_ignored_name(part) for part in path.relative_to(root).parts)


def split_ignored(paths: Iterable[Path], root: Path) -> tuple[list[Path], int]:
    """The ``paths`` (found below ``root``) with no ignored component, and how many ignored entries they went
    through: an ignored folder counts once, however much it holds, as when a folder is listed (savkit's own
    entries are not counted)."""
    kept, outermost = [], set()
    for path in paths:
        parts = path.relative_to(root).parts
        first = next((i for i, part in enumerate(parts) if is_ignored_name(part)), None)
        if first is None:
            kept.append(path)
        elif not is_own_name(parts[first]):
            outermost.add(parts[: first + 1])
    return kept, len(outermost)


class IgnoredEntriesWarning(UserWarning):
    """A discovery skipped hidden or system entries: said with their count, so that nothing is skipped unseen."""


def ignored_message(count: int, place: str) -> str:
    """The one wording of that warning; ``place`` says where, e.g. ``under sav_train``."""
    return f"ignored {count} hidden or system entries (names starting with '.', __MACOSX) {place}"


def video_id_problem(video_id: str) -> str | None:
    """Why ``video_id`` (taken from a file or folder name) is refused, or None when it is a safe id.

    An id names output files and folders, so it must be one plain path component: not empty, not ``.``/``..``,
    no leading dot (savkit's own hidden names), no path separator, no control character.
    """
    if not video_id:
        return "the video id is empty"
    if video_id in (".", ".."):
        return f"the video id {video_id!r} is not a name"
    if video_id.startswith("."):
        return f"the video id {video_id!r} starts with a dot"
    if "/" in video_id or "\\" in video_id or (os.altsep and os.altsep in video_id):
        return f"the video id {video_id!r} contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in video_id):
        return f"the video id {video_id!r} contains a control character"
    return None


def check_video_id(video_id: str, where: str | os.PathLike = "") -> str:
    """``video_id`` when it is safe, else a SavkitError naming the file it came from."""
    problem = video_id_problem(video_id)
    if problem is not None:
        place = f"{where}: " if where else ""
        raise SavkitError(f"{place}{problem}: rename the file to a plain video id such as sav_000001")
    return video_id


def split_valid_ids(ids: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The safe ids, and the refused ones with their reasons (for a per-video failure report)."""
    valid, refused = [], {}
    for video_id in ids:
        problem = video_id_problem(video_id)
        if problem is None:
            valid.append(video_id)
        else:
            refused[video_id] = problem
    return valid, refused
