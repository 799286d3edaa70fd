"""The meta files of the benchmarks that list their videos and objects in JSON (MOSEv2 ``meta.json``, LVOS
``valid_meta.json``), and the video lists some of them ship as text (LVOS ``unseen_videos.txt``)."""

from __future__ import annotations

import json
from pathlib import Path

from savkit.errors import SavkitError
from savkit.io.names import visible_entries


def read_meta_videos(path: str | None, protocol: str) -> dict[str, dict]:
    """The ``videos`` mapping of a meta JSON; a missing flag or a malformed file is a one-line error."""
    if path is None:
        raise SavkitError(
            f"--protocol {protocol} needs --meta PATH: the dataset's meta JSON that lists its videos and objects"
        )
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SavkitError(
            f"--meta {path}: not a readable JSON file ({error}): give the dataset's meta JSON"
        ) from None
    videos = data.get("videos") if isinstance(data, dict) else None
    if not isinstance(videos, dict):
        raise SavkitError(f"--meta {path} has no 'videos' object: give the dataset's meta JSON")
    return videos


def read_name_list(path: str | None, flag: str, what: str) -> set[str]:
    """Names one per line (surrounding spaces stripped, blank lines ignored)."""
    if path is None:
        raise SavkitError(f"{flag} PATH is required: {what}")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SavkitError(f"{flag} {path}: not a readable text file ({error})") from None
    return {line.strip() for line in lines if line.strip()}


def video_folders(root: Path) -> list[str]:
    """The visible sub-folders of ``root``, sorted (hidden entries and ``__MACOSX`` are never videos)."""
    entries, _ = visible_entries(root)
    return [entry.name for entry in entries if entry.is_dir()]


def png_names(folder: Path) -> list[str]:
    """The visible ``*.png`` file names of a folder."""
    entries, _ = visible_entries(folder)
    return [entry.name for entry in entries if entry.name.endswith(".png") and entry.is_file()]


def existing_root(path: str | Path, flag: str) -> Path:
    root = Path(path)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise SavkitError(f"{flag} {root} {what}: give the folder that holds one sub-folder per video")
    return root
