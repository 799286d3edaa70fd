"""savkit index / stats / query: the tables against an independent reading of the files (plain json, pycocotools
decode, Pillow), incremental re-indexing, corrupt input, and the CLI outputs."""

from __future__ import annotations

import csv
import errno
import importlib
import json
import os
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from annotation_samples import deny_listing
from savkit.cli import main
from savkit.errors import SavkitError
from savkit.index import build_index
from savkit.synthetic import write_train_videos, write_valtest_videos

VAL_IDS = ["sav_000900", "sav_000901", "sav_000902"]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """5 synthetic train videos (one with an mp4 beside it) and 3 val videos in the PNG layout."""
    root = tmp_path / "sav"
    write_train_videos(root / "sav_train" / "sav_000", 5, seed=7)
    (root / "sav_train" / "sav_000" / "sav_000002.mp4").write_bytes(b"")
    write_valtest_videos(root / "sav_val", VAL_IDS, num_objects=2, num_frames=5, seed=3)
    return root


@cache
def decoded_area(height: int, width: int, counts: str) -> int:
    return int(mask_utils.decode({"size": [height, width], "counts": counts.encode()}).sum())


def visibility_metadata(areas: list[int], height: int, width: int) -> dict:
    """SA-V README definitions, written out independently of savkit for val/test masklets."""
    visible = [area > 0 for area in areas]
    first = visible.index(True) if any(visible) else 0
    size_abs = sum(areas) / sum(visible) if any(visible) else 0.0
    bucket = "small" if size_abs < 32**2 else "medium" if size_abs < 96**2 else "large"
    changes = sum(a != b for a, b in zip(visible[first:], visible[first + 1 :], strict=False))
    return {
        "size_abs": size_abs,
        "size_rel": size_abs / (height * width),
        "size_bucket": bucket,
        "visibility_changes": changes,
        "first_appeared_frame": first,
    }


def read_independently(root: Path) -> tuple[dict, dict]:
    """(videos, masklets) keyed by (split, video_id) and (video_id, type, masklet_id), straight from the files."""
    videos, masklets = {}, {}
    read_train_jsons(root, videos, masklets)
    read_valtest_folders(root, videos, masklets)
    return videos, masklets


def manual_first(path: Path) -> bool:
    """Sort key: a video's fields come from its manual JSON, as in the index."""
    return path.name.endswith("_auto.json")


def read_train_jsons(root: Path, videos: dict, masklets: dict) -> None:
    for path in sorted(root.rglob("*.json"), key=manual_first):
        data = json.loads(path.read_text())
        video_id, masklet_type = path.stem.rsplit("_", 1)
        height, width = int(data["video_height"]), int(data["video_width"])
        video = videos.setdefault(
            ("train", video_id),
            {
                "manual": 0,
                "auto": 0,
                "environment": data["video_environment"],
                "duration": data["video_duration"],
                "frame_count": int(data["video_frame_count"]),
                "height": height,
                "width": width,
                "has_mp4": path.with_name(f"{video_id}.mp4").exists(),
            },
        )
        video[masklet_type] += len(data["masklet_id"])
        for i, masklet_id in enumerate(data["masklet_id"]):
            scores = data["masklet_stability_score"]
            masklets[video_id, masklet_type, masklet_id] = {
                "areas": [decoded_area(height, width, frame[i]["counts"]) for frame in data["masklet"]],
                "size_bucket": data["masklet_size_bucket"][i],
                "size_abs": data["masklet_size_abs"][i],
                "visibility_changes": data["masklet_visibility_changes"][i],
                "first_appeared_frame": data["masklet_first_appeared_frame"][i],
                "frame_count": data["masklet_frame_count"][i],
                "edited_frame_count": data["masklet_edited_frame_count"][i],
                "stability_score": float(np.mean([row[i] for row in scores]))
                if masklet_type == "auto"
                else None,
            }


def read_valtest_folders(root: Path, videos: dict, masklets: dict) -> None:
    for video_dir in sorted(root.glob("*/Annotations_6fps/*")):
        split = video_dir.parent.parent.name.removeprefix("sav_")
        objects = sorted(video_dir.iterdir())
        jpegs = list((video_dir.parent.parent / "JPEGImages_24fps" / video_dir.name).glob("*.jpg"))
        for obj in objects:
            pngs = sorted(obj.glob("*.png"))
            arrays = [np.array(Image.open(png)) for png in pngs]
            height, width = arrays[0].shape
            areas = [int(np.count_nonzero(array)) for array in arrays]
            masklets[video_dir.name, "manual", int(obj.name)] = {
                "areas": areas,
                **visibility_metadata(areas, height, width),
                "frame_count": len(pngs),
            }
        videos[split, video_dir.name] = {
            "manual": len(objects),
            "auto": 0,
            "environment": None,
            "frame_count": len(jpegs),
            "height": height,
            "width": width,
        }


def index_tables(index_dir: Path) -> tuple[dict, dict]:
    videos = {
        (row["split"], row["video_id"]): row
        for row in pq.read_table(index_dir / "videos.parquet").to_pylist()
    }
    masklets = {
        (row["video_id"], row["type"], row["masklet_id"]): row
        for row in pq.read_table(index_dir / "masklets.parquet").to_pylist()
    }
    return videos, masklets


def assert_index_matches_files(index_dir: Path, root: Path) -> None:
    expected_videos, expected_masklets = read_independently(root)
    videos, masklets = index_tables(index_dir)
    assert set(videos) == set(expected_videos)
    for key, expected in expected_videos.items():
        row = videos[key]
        assert (row["n_manual"], row["n_auto"]) == (expected["manual"], expected["auto"]), key
        for name in ("environment", "frame_count", "height", "width", "has_mp4"):
            if name in expected:
                assert row[name] == expected[name], (key, name)
        if "duration" in expected:
            assert row["duration"] == pytest.approx(expected["duration"])
    assert set(masklets) == set(expected_masklets)
    for key, expected in expected_masklets.items():
        for name, value in expected.items():
            assert masklets[key][name] == (pytest.approx(value) if isinstance(value, float) else value), (
                key,
                name,
            )


def test_index_equals_an_independent_reading_of_the_files(dataset: Path, tmp_path: Path) -> None:
    report = build_index(dataset, tmp_path / "index", workers=2)
    assert report.failures == []
    assert report.sources == len(list(dataset.rglob("*.json"))) + len(VAL_IDS)
    assert_index_matches_files(tmp_path / "index", dataset)
    videos, _ = index_tables(tmp_path / "index")
    assert [key for key, row in videos.items() if row["has_mp4"]] == [("train", "sav_000002")]


def test_real_sample_is_indexed_with_exact_areas(sample_dir: Path, tmp_path: Path) -> None:
    report = build_index(sample_dir, tmp_path / "index", workers=1)
    assert (report.videos, report.masklets) == (1, 14)
    assert_index_matches_files(tmp_path / "index", sample_dir)


def recording(read, paths: list[Path]):
    """Wrap a reader so that every path it is called with is appended to ``paths``."""

    def wrapper(path, *args):
        paths.append(Path(path))
        return read(path, *args)

    return wrapper


def test_reindex_reads_only_new_and_changed_files(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    index_dir = tmp_path / "index"
    build_index(dataset, index_dir, workers=1)
    train = dataset / "sav_train" / "sav_000"
    changed = train / "sav_000003_manual.json"
    data = json.loads(changed.read_text())
    data["video_environment"] = "Underwater"
    changed.write_text(json.dumps(data))
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    (train / "sav_000004_manual.json").unlink()
    added = write_train_videos(train, 1, seed=11, first_id=50)
    val_png = dataset / "sav_val" / "Annotations_6fps" / VAL_IDS[1] / "001" / "00004.png"
    Image.fromarray(np.full((48, 64), 255, np.uint8)).save(val_png)

    import savkit.index.read as index_read

    read_paths: list[Path] = []
    for name in ("read_sav_json", "read_valtest_video"):
        monkeypatch.setattr(index_read, name, recording(getattr(index_read, name), read_paths))
    report = build_index(dataset, index_dir, workers=1)

    relative = sorted(p.relative_to(dataset).as_posix() for p in [changed, *added])
    assert sorted(report.read) == sorted([*relative, f"sav_val/Annotations_6fps/{VAL_IDS[1]}"])
    assert sorted(p.name for p in read_paths) == sorted([changed.name, *(p.name for p in added), "sav_val"])
    assert report.removed == ["sav_train/sav_000/sav_000004_manual.json"]
    assert_index_matches_files(index_dir, dataset)
    fresh = tmp_path / "fresh"
    build_index(dataset, fresh, workers=1)
    for table in ("videos", "masklets", "files"):
        assert pq.read_table(index_dir / f"{table}.parquet").equals(pq.read_table(fresh / f"{table}.parquet"))

    masklets_mtime = (index_dir / "masklets.parquet").stat().st_mtime_ns
    read_paths.clear()
    report = build_index(dataset, index_dir, workers=1)
    assert (report.read, report.removed, read_paths) == ([], [], [])
    assert (index_dir / "masklets.parquet").stat().st_mtime_ns == masklets_mtime


def test_corrupt_json_is_skipped_listed_and_exit_1(dataset: Path, tmp_path: Path, capsys) -> None:
    corrupt = dataset / "sav_train" / "sav_000" / "sav_000001_auto.json"
    good = corrupt.read_bytes()
    corrupt.write_bytes(good[: len(good) // 2])
    malformed = dataset / "sav_train" / "sav_000" / "sav_000099_manual.json"
    malformed.write_text(json.dumps({"video_id": "sav_000099", "masklet": []}))
    index_dir = tmp_path / "index"
    assert main(["index", str(dataset), "--out", str(index_dir), "--workers", "1", "-q"]) == 1
    err = capsys.readouterr().err
    assert "skipped 2 unreadable source" in err
    assert "  sav_train/sav_000/sav_000001_auto.json: not valid JSON" in err
    assert "  sav_train/sav_000/sav_000099_manual.json: field video_duration: expected present" in err
    videos, masklets = index_tables(index_dir)
    assert len(videos) == 5 + len(VAL_IDS) and videos["train", "sav_000001"]["n_auto"] == 0
    assert not any(key[:2] == ("sav_000001", "auto") for key in masklets)

    corrupt.write_bytes(good)
    malformed.unlink()
    assert main(["index", str(dataset), "--out", str(index_dir), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "(1 read," in out
    assert_index_matches_files(index_dir, dataset)


class DeniedEntry:
    """A folder entry whose stat is refused (EACCES), as for a link into a folder the user may not search: the
    tests may run as root, whom permissions do not stop."""

    def __init__(self, entry: os.DirEntry) -> None:
        self._entry = entry

    def __getattr__(self, name: str):
        return getattr(self._entry, name)

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return False

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        raise PermissionError(errno.EACCES, "Permission denied", self._entry.path)


class DenyingScandir:
    """``os.scandir`` (an iterator and a context manager) with the entries called ``name`` denied."""

    def __init__(self, scandir, path, name: str) -> None:
        self._entries, self._name = scandir(path), name

    def __iter__(self):
        return self

    def __next__(self):
        entry = next(self._entries)
        return DeniedEntry(entry) if entry.name == self._name else entry

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self._entries.close()


def deny_stat(monkeypatch, name: str) -> None:
    """Make every stat of an entry called ``name`` through ``os.scandir`` fail with permission denied."""
    scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": DenyingScandir(scandir, path, name))


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        ("dangling", "a dangling symlink (its target does not exist); fix or remove the link"),
        ("loop", "a symlink loop (too many levels of symbolic links); fix or remove the link"),
        ("denied", "cannot read (Permission denied); check the file"),
    ],
)
def test_broken_link_or_denied_json_is_listed_and_the_index_goes_on(
    dataset: Path, tmp_path: Path, capsys, monkeypatch, problem: str, reason: str
) -> None:
    folder = dataset / "sav_train" / "sav_000"
    index_dir = tmp_path / "index"
    sources = build_index(dataset, index_dir, workers=1).sources
    broken = folder / "sav_000003_manual.json"
    if problem == "denied":
        deny_stat(monkeypatch, broken.name)
    else:
        broken.unlink()
        broken.symlink_to("nowhere.json" if problem == "dangling" else broken.name)
    (folder / "sav_000098_auto.json").symlink_to(folder / "gone" / "x.json")  # a second one, never indexed
    assert main(["index", str(dataset), "--out", str(index_dir), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert (
        f"from {sources - 1} sources (0 read, {sources - 1} unchanged, 0 removed)" in captured.out
    )  # a broken source is not "removed"
    assert captured.err.splitlines()[-3:] == [
        "skipped 2 unreadable source(s):",
        f"  sav_train/sav_000/sav_000003_manual.json: {reason}",
        "  sav_train/sav_000/sav_000098_auto.json: a dangling symlink (its target does not exist); "
        "fix or remove the link",
    ]
    videos, masklets = index_tables(index_dir)
    assert len(videos) == 5 + len(VAL_IDS) and videos["train", "sav_000003"]["n_manual"] == 0
    assert not any(key[:2] == ("sav_000003", "manual") for key in masklets)


def test_broken_png_link_lists_its_val_video_and_the_index_goes_on(
    dataset: Path, tmp_path: Path, capsys
) -> None:
    png = dataset / "sav_val" / "Annotations_6fps" / VAL_IDS[1] / "001" / "00004.png"
    png.unlink()
    png.symlink_to("nowhere.png")
    assert main(["index", str(dataset), "--out", str(tmp_path / "index"), "--workers", "1", "-q"]) == 1
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "skipped 1 unreadable source(s):",
        f"  sav_val/Annotations_6fps/{VAL_IDS[1]}: {png}: a dangling symlink (its target does not exist); "
        "fix or remove the link",
    ]
    videos, _ = index_tables(tmp_path / "index")
    assert sorted(videos) == sorted(
        [*(("val", v) for v in (VAL_IDS[0], VAL_IDS[2]))] + [key for key in videos if key[0] == "train"]
    )


def test_unlistable_train_folder_is_listed_and_the_index_goes_on(
    dataset: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    index_dir = tmp_path / "index"
    sources = build_index(dataset, index_dir, workers=1).sources
    deny_listing(monkeypatch, dataset / "sav_train" / "sav_000")
    assert main(["index", str(dataset), "--out", str(index_dir), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "from 3 sources (0 read, 3 unchanged, 0 removed)" in captured.out  # its 5 videos are not "removed"
    assert captured.err.splitlines()[-2:] == [
        "skipped 1 unreadable source(s):",
        "  sav_train/sav_000: cannot list the folder (Permission denied); check its permissions",
    ]
    videos, _ = index_tables(index_dir)
    assert sorted(videos) == [("val", v) for v in VAL_IDS]
    monkeypatch.undo()  # listable again: the next run reads its sources
    report = build_index(dataset, index_dir, workers=1)
    assert (report.sources, len(report.read), report.failures) == (sources, sources - 3, [])


def test_unlistable_val_folders_are_listed_and_the_index_goes_on(
    dataset: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    annotations = dataset / "sav_val" / "Annotations_6fps"
    deny_listing(monkeypatch, annotations / VAL_IDS[1] / "001")  # inside a video: os.walk skipped it silently
    assert main(["index", str(dataset), "--out", str(tmp_path / "index"), "--workers", "1", "-q"]) == 1
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "skipped 1 unreadable source(s):",
        f"  sav_val/Annotations_6fps/{VAL_IDS[1]}: {annotations / VAL_IDS[1] / '001'}: cannot list the folder "
        "(Permission denied); check its permissions",
    ]
    videos, _ = index_tables(tmp_path / "index")
    assert ("val", VAL_IDS[1]) not in videos and ("val", VAL_IDS[0]) in videos
    deny_listing(monkeypatch, annotations)
    assert main(["index", str(dataset), "--out", str(tmp_path / "index"), "--workers", "1", "-q"]) == 1
    assert capsys.readouterr().err.splitlines()[-2:] == [
        "skipped 1 unreadable source(s):",
        "  sav_val/Annotations_6fps: cannot list the folder (Permission denied); check its permissions",
    ]
    videos, _ = index_tables(tmp_path / "index")
    assert len(videos) == 5 and all(split == "train" for split, _ in videos)


def test_unlistable_root_is_one_line(dataset: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    deny_listing(monkeypatch, dataset)
    assert main(["index", str(dataset), "--out", str(tmp_path / "index")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot list the folder (Permission denied)" in err
    deny_listing(monkeypatch, dataset / "sav_val" / "Annotations_6fps")
    with pytest.raises(SavkitError, match="Annotations_6fps: cannot list the folder"):
        build_index(dataset / "sav_val" / "Annotations_6fps", tmp_path / "val_index")


@pytest.fixture
def indexed(dataset: Path, tmp_path: Path) -> tuple[Path, Path]:
    index_dir = tmp_path / "index"
    build_index(dataset, index_dir, workers=1)
    return dataset, index_dir


def test_stats_json_counts_distributions(indexed: tuple[Path, Path], capsys) -> None:
    root, index_dir = indexed
    videos, masklets = read_independently(root)
    assert main(["stats", str(index_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)

    expected_splits = []
    for split in ("train", "val"):
        parts = [v for (s, _), v in videos.items() if s == split]
        manual, auto = sum(v["manual"] for v in parts), sum(v["auto"] for v in parts)
        expected_splits.append(
            {"split": split, "videos": len(parts), "masklets": manual + auto, "manual": manual, "auto": auto}
        )
    assert stats["splits"] == expected_splits
    assert stats["total"]["masklets"] == len(masklets)

    buckets = Counter((m["size_bucket"], key[1]) for key, m in masklets.items())
    assert {row["size_bucket"]: (row["manual"], row["auto"]) for row in stats["size_buckets"]} == {
        bucket: (buckets[bucket, "manual"], buckets[bucket, "auto"]) for bucket, _ in buckets
    }
    environments = Counter(v["environment"] or "unknown" for v in videos.values())
    assert {row["environment"]: row["videos"] for row in stats["environments"]} == environments
    changes = [m["visibility_changes"] for m in masklets.values()]
    edges = {"0": (0, 0), "1-2": (1, 2), "3-5": (3, 5), "6-10": (6, 10), ">=11": (11, 10**9)}
    assert {row["bin"]: row["total"] for row in stats["visibility_changes"]} == {
        name: sum(low <= c <= high for c in changes) for name, (low, high) in edges.items()
    }
    durations = [v["frame_count"] / 24 if "duration" not in v else v["duration"] for v in videos.values()]
    assert sum(row["videos"] for row in stats["duration"]["bins"]) == len(durations)
    assert stats["duration"]["max_s"] == pytest.approx(max(durations))

    assert main(["stats", str(index_dir)]) == 0
    table = capsys.readouterr().out
    train = expected_splits[0]
    assert f"train  {train['videos']:>6}  {train['masklets']:>8}" in table


def test_query_writes_csv_and_video_list(indexed: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    root, index_dir = indexed
    videos, masklets = read_independently(root)
    sql = (
        "SELECT m.video_id, m.masklet_id FROM masklets m JOIN videos v USING (split, video_id) "
        "WHERE m.type = 'manual' AND m.size_bucket IN ('medium', 'large') AND v.environment = 'Outdoor' "
        "ORDER BY m.video_id, m.masklet_id;"
    )
    csv_path, list_path = tmp_path / "out" / "selection.csv", tmp_path / "out" / "videos.txt"
    assert main(["query", str(index_dir), sql, "--csv", str(csv_path), "--video-list", str(list_path)]) == 0
    expected = sorted(
        (video_id, masklet_id)
        for (video_id, masklet_type, masklet_id), m in masklets.items()
        if masklet_type == "manual"
        and m["size_bucket"] in ("medium", "large")
        and videos.get(("train", video_id), {}).get("environment") == "Outdoor"
    )
    assert expected, "the fixture should select something"
    with csv_path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["video_id", "masklet_id"]
    assert [(video_id, int(masklet_id)) for video_id, masklet_id in rows[1:]] == expected
    assert list_path.read_text().splitlines() == sorted({video_id for video_id, _ in expected})
    assert f"({len(expected):,} rows" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sql", "video_list", "message"),
    [
        ("SELEC video_id FROM videos", False, "SQL error: Parser Error"),
        ("SELECT * FROM no_such_table", False, "SQL error: Catalog Error"),
        ("SELECT count(*) AS n FROM videos", True, "needs a video_id column"),
        (
            "SELECT video_id FROM videos; SELECT 1",
            True,
            "only one read-only SELECT is allowed, found 2 statements",
        ),
        ("DROP VIEW videos", False, "only one read-only SELECT is allowed, found a DROP statement"),
        (
            "CREATE TABLE t AS SELECT 1",
            False,
            "only one read-only SELECT is allowed, found a CREATE statement",
        ),
    ],
)
def test_bad_query_is_one_line_and_exit_2(
    indexed, tmp_path: Path, capsys, sql: str, video_list: bool, message: str
) -> None:
    _, index_dir = indexed
    target = tmp_path / "list.txt"
    options = ["--video-list", str(target)] if video_list else []
    assert main(["query", str(index_dir), sql, *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith("savkit query: error: ") and message in err and err.count("\n") == 1
    assert not target.exists()


@pytest.mark.parametrize("command", ["stats", "query"])
def test_index_dir_has_help_text(command: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "INDEX_DIR folder written by `savkit index ROOT --out INDEX_DIR`" in usage


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda root, out: [str(root / "missing"), "--out", str(out)], "is not a folder"),
        (
            lambda root, out: [
                str(root / "sav_train" / "sav_000" / "sav_000001_manual.json"),
                "--out",
                str(out),
            ],
            "is not a folder",
        ),
        (
            lambda root, out: [str(root / "sav_val" / "JPEGImages_24fps"), "--out", str(out)],
            "no annotations under",
        ),
        (lambda root, out: [str(root), "--out", str(out), "--workers", "0"], "workers must be at least 1"),
        (
            lambda root, out: [
                str(root),
                "--out",
                str(root / "sav_train" / "sav_000" / "sav_000001_manual.json"),
            ],
            "is a file",
        ),
    ],
)
def test_bad_index_arguments_exit_2(dataset: Path, tmp_path: Path, capsys, make_args, message: str) -> None:
    out = tmp_path / "index"
    assert main(["index", *make_args(dataset, out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("savkit index: error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_symlink_loop_is_walked_once(dataset: Path, tmp_path: Path) -> None:
    sources = len(list(dataset.rglob("*.json"))) + len(VAL_IDS)
    (dataset / "sav_train" / "sav_000" / "loop").symlink_to(dataset / "sav_train")
    report = build_index(dataset, tmp_path / "index", workers=1)
    assert report.sources == sources


def test_annotations_folder_as_root(dataset: Path, tmp_path: Path) -> None:
    report = build_index(dataset / "sav_val" / "Annotations_6fps", tmp_path / "index", workers=1)
    assert (report.failures, report.videos, report.masklets) == ([], len(VAL_IDS), 2 * len(VAL_IDS))


def test_stats_of_a_folder_that_is_not_an_index_exit_2(
    indexed: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    assert main(["stats", str(tmp_path / "empty")]) == 2
    assert "is not a savkit index" in capsys.readouterr().err
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.json").write_text("[1, 2]")  # another tool's index.json
    assert main(["stats", str(tmp_path / "web")]) == 2
    err = capsys.readouterr().err
    assert "is not a savkit index" in err and err.count("\n") == 1
    _, index_dir = indexed
    (index_dir / "masklets.parquet").unlink()
    assert main(["query", str(index_dir), "SELECT * FROM videos"]) == 2
    assert "is incomplete (no masklets.parquet)" in capsys.readouterr().err


def test_missing_index_extra_says_how_to_install(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    for name in [name for name in sys.modules if name.startswith("savkit.index")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(SavkitError, match=r"pip install 'savkit\[index\]'"):
        importlib.import_module("savkit.index")
    assert main(["stats", str(tmp_path)]) == 2
    assert "pip install 'savkit[index]'" in capsys.readouterr().err


def test_dask_scheduler_gives_the_same_index(dataset: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client:
        report = build_index(dataset, tmp_path / "dask", scheduler=client)
    assert report.failures == []
    build_index(dataset, tmp_path / "local", workers=1)
    for table in ("videos", "masklets"):
        dask_table = pq.read_table(tmp_path / "dask" / f"{table}.parquet")
        assert dask_table.equals(pq.read_table(tmp_path / "local" / f"{table}.parquet"))
