"""Checkpoints of a running index: rows read so far are saved as numbered Parquet parts in ``OUT/.savkit-parts``.

``build_index`` saves what its workers returned every ``CHECKPOINT_SECONDS`` and when it is interrupted
(Ctrl-C, or SIGTERM through the CLI), so a re-run reads only the sources no part holds. A part is a pair of
Arrow IPC files (uncompressed: written and read back at memory speed, and they do not outlive the run)
``{n:06d}.masklets.arrow`` + ``{n:06d}.files.arrow``, the files table written last: a part without it is
ignored. Parts are for one root and format (``parts.json``); a run that finishes merges them into the index
tables and removes them. Only these names are ever deleted here.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyarrow as pa

from savkit.index.layout import FORMAT_VERSION, PARTS_DIR
from savkit.index.read import BatchRows
from savkit.io.atomic import atomic_path, is_temporary_name, write_text_atomic

CHECKPOINT_SECONDS = 10.0
PARTS_META = "parts.json"
_PART_NAME = re.compile(r"(\d{6})\.(files|masklets)\.arrow")


class PartStore:
    """The parts of unfinished runs for ``root`` in ``out_dir``, and the rows waiting to become the next part."""

    def __init__(self, out_dir: Path, root: Path) -> None:
        self.folder = out_dir / PARTS_DIR
        self.meta = {"format": FORMAT_VERSION, "root": str(root)}
        self.numbers = self._complete_parts()
        self._files: list[pa.Table] = []
        self._masklets: list[pa.Table] = []
        self._last_save = time.monotonic()

    def add(self, rows: BatchRows) -> None:
        """Keep a batch's rows; save them as a part when the last save is ``CHECKPOINT_SECONDS`` old."""
        self._files.append(rows.files)
        self._masklets.append(rows.masklets)
        if time.monotonic() - self._last_save >= CHECKPOINT_SECONDS:
            self.save()

    def save(self) -> None:
        """Write the waiting rows as the next part (nothing if none are waiting)."""
        self._last_save = time.monotonic()
        if not self._files:
            return
        if not self.numbers:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.folder / PARTS_META, json.dumps(self.meta))
        number = max(self.numbers, default=0) + 1
        _write(pa.concat_tables(self._masklets), self._path(number, "masklets"))
        _write(pa.concat_tables(self._files), self._path(number, "files"))
        self.numbers.append(number)
        self._files, self._masklets = [], []

    def files(self, number: int) -> pa.Table:
        return _read(self._path(number, "files"))

    def masklets(self, number: int) -> pa.Table:
        return _read(self._path(number, "masklets"))

    def clear(self) -> None:
        """Delete the parts folder's own files (parts, meta, their temporary files), then the folder if empty."""
        if not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if _PART_NAME.fullmatch(path.name) or path.name == PARTS_META or is_temporary_name(path.name):
                path.unlink(missing_ok=True)
        if not any(self.folder.iterdir()):
            self.folder.rmdir()
        self.numbers = []

    def _complete_parts(self) -> list[int]:
        """Numbers of the complete parts left for this root and format; others' parts are cleared."""
        try:
            meta = json.loads((self.folder / PARTS_META).read_text())
        except (OSError, ValueError):
            meta = None
        if meta != self.meta:
            self.clear()
            return []
        names = {path.name for path in self.folder.iterdir()}
        numbers = {int(match[1]) for name in names if (match := _PART_NAME.fullmatch(name))}
        return sorted(n for n in numbers if {f"{n:06d}.files.arrow", f"{n:06d}.masklets.arrow"} <= names)

    def _path(self, number: int, table: str) -> Path:
        return self.folder / f"{number:06d}.{table}.arrow"


def _write(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp, pa.ipc.new_file(str(tmp), table.schema) as writer:
        writer.write_table(table)


def _read(path: Path) -> pa.Table:
    with pa.OSFile(str(path)) as source:
        return pa.ipc.open_file(source).read_all()
