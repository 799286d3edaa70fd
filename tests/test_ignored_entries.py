"""Every discovery skips hidden entries, ``__MACOSX/`` and AppleDouble ``._*`` files (one rule: savkit.io.names)
and says how many it skipped: Dataset, validate (train and val/test), index, and the conversions' sources.
(eval: tests/test_eval_cli.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from savkit.cli import main
from savkit.dataset import Dataset
from savkit.index import build_index
from savkit.io.names import IgnoredEntriesWarning
from savkit.synthetic import sav_json, write_valtest_videos
from savkit.validate import ERROR, WARNING, validate_paths

APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X resource fork"


@pytest.fixture
def train(tmp_path: Path) -> Path:
    """Two small train videos, plus what macOS unzip and a tool's cache leave beside them."""
    root = tmp_path / "train"
    root.mkdir()
    for number in (1, 2):
        data = sav_json(
            f"sav_{number:06d}",
            "manual",
            2,
            height=48,
            width=64,
            frame_count=20,
            environment="Indoor",
            seed=number,
        )
        (root / f"sav_{number:06d}_manual.json").write_text(json.dumps(data))
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "sav_000001_manual.json").write_bytes(APPLEDOUBLE)
    (root / "__MACOSX" / "._sav_000002_manual.json").write_bytes(APPLEDOUBLE)
    (root / "._sav_000002_manual.json").write_bytes(APPLEDOUBLE)
    (root / ".cache").mkdir()
    shutil.copy(root / "sav_000001_manual.json", root / ".cache" / "sav_000003_manual.json")
    return root


def test_dataset_skips_and_warns(train):
    with pytest.warns(IgnoredEntriesWarning, match=r"ignored \d+ hidden or system entries .* under .*train"):
        dataset = Dataset(train)
    assert dataset.video_ids == ["sav_000001", "sav_000002"]


def test_validate_train_folder_skips_and_warns(train):
    problems = validate_paths([train])
    errors = [p for p in problems if p.severity == ERROR]
    assert errors and all(p.field == "(file)" and p.file.endswith(".mp4") for p in errors), errors
    assert {Path(p.file).name for p in errors} == {"sav_000001.mp4", "sav_000002.mp4"}
    warned = [p for p in problems if p.severity == WARNING and p.field == "(ignored)"]
    assert len(warned) == 1 and warned[0].file == str(train) and "hidden or system entries" in warned[0].found


def test_validate_valtest_folder_skips_and_warns(tmp_path):
    split = tmp_path / "sav_val"
    write_valtest_videos(split, ["sav_000001"])
    annotations = split / "Annotations_6fps"
    (annotations / "sav_000001" / "000" / "._00000.png").write_bytes(APPLEDOUBLE)
    (annotations / "sav_000001" / ".DS_Store").write_bytes(b"\x00")
    (annotations / "__MACOSX" / "sav_000001" / "000").mkdir(parents=True)
    problems = validate_paths([split])
    assert [p for p in problems if p.severity == ERROR] == []
    warned = {p.file: p.found for p in problems if p.field == "(ignored)"}
    assert warned.keys() == {str(annotations), str(annotations / "sav_000001")}
    assert warned[str(annotations / "sav_000001")].startswith("ignored 2 hidden or system entries")


def test_index_skips_and_counts(train, tmp_path):
    report = build_index(train, tmp_path / "index", workers=1)
    assert report.videos == 2 and report.failures == [] and report.duplicates == []
    assert report.ignored == 3  # __MACOSX/, .cache/, ._sav_000002_manual.json: hidden folders are not walked


def test_conversion_sources_skip_and_warn(train, tmp_path, capsys):
    out = tmp_path / "masks"
    assert main(["export-masks", str(train), str(out), "-q", "--workers", "1"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("savkit export-masks: warning: ignored "), err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["sav_000001", "sav_000002"]
