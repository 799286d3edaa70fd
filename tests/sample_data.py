"""The real SA-V sample shipped in ``tests/data/`` (gzipped), unpacked once per process into a temporary folder.

Used by the tests and by ``benchmarks/``; nothing outside the repository is read.
"""

from __future__ import annotations

import atexit
import gzip
import shutil
import tempfile
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_VIDEO_ID = "sav_000001"


@cache
def sample_folder() -> Path:
    """A folder holding ``sav_000001_manual.json`` and ``sav_000001_auto.json`` as released."""
    folder = Path(tempfile.mkdtemp(prefix="savkit-sample-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for masklet_type in ("manual", "auto"):
        name = f"{SAMPLE_VIDEO_ID}_{masklet_type}.json"
        with gzip.open(DATA_DIR / f"{name}.gz", "rb") as packed:
            (folder / name).write_bytes(packed.read())
    return folder
