"""The shared name rules: ignored folder entries and safe video ids."""

from __future__ import annotations

import pytest

from savkit.errors import SavkitError
from savkit.io.names import (
    check_video_id,
    is_ignored_name,
    split_ignored,
    split_valid_ids,
    video_id_problem,
    visible_entries,
)


@pytest.mark.parametrize("name", [".DS_Store", "._000.png", ".savkit-complete", ".v0.partial", "__MACOSX"])
def test_hidden_and_archiver_entries_are_ignored(name):
    assert is_ignored_name(name)


@pytest.mark.parametrize("name", ["sav_000001", "000", "00004.png", "MACOSX"])
def test_data_entries_are_kept(name):
    assert not is_ignored_name(name)


def test_visible_entries_sorts_and_counts_the_ignored(tmp_path):
    for name in ("b", "a", ".DS_Store", "__MACOSX", "._a"):
        (tmp_path / name).mkdir()
    kept, ignored = visible_entries(tmp_path)
    assert [e.name for e in kept] == ["a", "b"] and ignored == 3


@pytest.mark.parametrize("bad", ["", ".", "..", ".hidden", "a/b", "a\\b", "x\ny", "tab\there", "del\x7f"])
def test_unsafe_ids_are_refused_with_a_reason(bad):
    assert video_id_problem(bad)
    with pytest.raises(SavkitError, match="rename the file"):
        check_video_id(bad, "src/x.json")


def test_safe_ids_pass_and_are_split_from_the_rest():
    assert check_video_id("sav_000001") == "sav_000001"
    valid, refused = split_valid_ids(["sav_1", "..", "v.2"])
    assert valid == ["sav_1", "v.2"] and set(refused) == {".."}


def test_split_ignored_counts_each_outermost_ignored_entry_once(tmp_path):
    for name in ("a/x.json", "__MACOSX/a/._x.json", "__MACOSX/y.json", ".cache/z.json", "b/._x.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    kept, ignored = split_ignored(sorted(tmp_path.rglob("*.json")), tmp_path)
    assert kept == [tmp_path / "a" / "x.json"]
    assert ignored == 3  # __MACOSX/, .cache/, b/._x.json


def test_savkit_own_entries_are_skipped_but_not_counted(tmp_path):
    from savkit.io.names import split_ignored

    for name in ("v0", ".savkit-complete", ".savkit-lock", ".savkit-index", ".DS_Store"):
        (tmp_path / name).mkdir()
    kept, ignored = visible_entries(tmp_path)
    assert [e.name for e in kept] == ["v0"] and ignored == 1
    paths = [tmp_path / "v0" / "a.png", tmp_path / ".savkit-complete" / "v0", tmp_path / ".DS_Store" / "x"]
    assert split_ignored(paths, tmp_path) == ([paths[0]], 1)
