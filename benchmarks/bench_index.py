"""savkit index / stats / query at SA-V scale.

1. Index throughput: writes --videos synthetic SA-V train videos (savkit.synthetic: realistic resolutions, ~120
   annotated frames, ~3 manual + ~10 auto masklets, RLE strings of realistic length), indexes them with 1 and with
   all local workers, then re-runs with nothing changed; prints files/s and the projection for the 50,583 videos
   (99,019 JSON files) of SA-V train.
2. stats and a filtered query on --index-videos (default 50,000) videos. Building that index from 100,000 generated
   JSONs would take about as long as the projection above on 2 cores, so the Parquet tables are generated directly
   (same schema, same writer settings as `savkit index`, areas lists included). Each command is timed in-process
   and as a full `savkit` CLI process (Python start and imports included); both must stay under 2 s.

    python benchmarks/bench_index.py [--videos 300] [--index-videos 50000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from savkit.index import build_index, index_stats, run_query
from savkit.index.build import write_index_meta, write_index_table
from savkit.index.layout import MASKLETS_FILE, VIDEOS_FILE
from savkit.index.schema import MASKLETS_SCHEMA, VIDEOS_SCHEMA
from savkit.synthetic import AUTO_FILE_FRACTION, write_train_videos

SAV_TRAIN_VIDEOS = 50_583
SAV_TRAIN_FILES = 50_583 + 48_436
LIMIT_S = 2.0
CURATION_SQL = (
    "SELECT m.video_id, m.masklet_id, m.size_bucket FROM masklets m JOIN videos v USING (split, video_id) "
    "WHERE m.type = 'manual' AND m.size_bucket IN ('medium', 'large') AND v.environment = 'Outdoor' "
    "AND m.visibility_changes > 0"
)


def bench_throughput(work: Path, num_videos: int) -> None:
    root = work / "sav_train"
    start = time.perf_counter()
    files = write_train_videos(root, num_videos, seed=0)
    size_mb = sum(path.stat().st_size for path in files) / 1e6
    print(
        f"generated {num_videos} videos = {len(files)} JSON files ({size_mb:.0f} MB) in {time.perf_counter() - start:.1f} s"
    )
    for workers in sorted({1, os.cpu_count() or 1}):
        report = build_index(root, work / f"index_w{workers}", workers=workers, progress=False)
        rate = len(report.read) / report.seconds
        print(
            f"index, {workers} worker(s): {rate:6.1f} files/s ({report.seconds:.2f} s); "
            f"projected SA-V train ({SAV_TRAIN_FILES:,} files): {SAV_TRAIN_FILES / rate / 60:.1f} min"
        )
    report = build_index(root, work / f"index_w{workers}", workers=workers, progress=False)
    projected = report.seconds * SAV_TRAIN_FILES / len(files)
    print(
        f"re-index, nothing changed: {report.seconds:.2f} s (reads {len(report.read)} files); projected {projected:.1f} s"
    )


def write_synthetic_index(index_dir: Path, num_videos: int, seed: int = 0) -> int:
    """The tables `savkit index` would write for ``num_videos`` SA-V-like train videos; returns the masklet count."""
    rng = np.random.default_rng(seed)
    video_ids = np.array([f"sav_{i:06d}" for i in range(1, num_videos + 1)])
    frame_count = rng.integers(96, 800, num_videos)
    n_manual = rng.integers(1, 7, num_videos)
    n_auto = np.where(rng.random(num_videos) < AUTO_FILE_FRACTION, rng.integers(4, 17, num_videos), 0)
    portrait = rng.random(num_videos) < 0.5
    height, width = np.where(portrait, 848, 1080), np.where(portrait, 480, 1920)
    videos = {
        "video_id": video_ids,
        "split": np.full(num_videos, "train"),
        "duration": frame_count / 24,
        "frame_count": frame_count,
        "height": height,
        "width": width,
        "environment": np.where(rng.random(num_videos) < 0.6, "Indoor", "Outdoor"),
        "n_manual": n_manual,
        "n_auto": n_auto,
        "has_mp4": np.ones(num_videos, bool),
        "sources": [[f"sav_train/{v}_manual.json", f"sav_train/{v}_auto.json"] for v in video_ids],
    }
    per_video = n_manual + n_auto
    owner = np.repeat(np.arange(num_videos), per_video)
    count = owner.size
    position = np.arange(count) - np.repeat(np.cumsum(per_video) - per_video, per_video)
    is_manual = position < n_manual[owner]
    frames = -(-frame_count[owner] // 4)
    size_abs = np.exp(rng.uniform(np.log(50), np.log(200_000), count))
    offsets = np.concatenate([[0], np.cumsum(frames)]).astype(np.int32)
    masklets = {
        "video_id": video_ids[owner],
        "split": np.full(count, "train"),
        "masklet_id": np.where(is_manual, position, position - n_manual[owner]),
        "type": np.where(is_manual, "manual", "auto"),
        "size_rel": size_abs / (height * width)[owner],
        "size_abs": size_abs,
        "size_bucket": np.select([size_abs < 32**2, size_abs < 96**2], ["small", "medium"], "large"),
        "visibility_changes": rng.geometric(0.4, count) - 1,
        "first_appeared_frame": np.where(is_manual, rng.integers(0, 10, count), 0),
        "frame_count": frames,
        "edited_frame_count": np.where(is_manual, rng.integers(0, 40, count), 0),
        "stability_score": pa.array(
            np.where(is_manual, np.nan, rng.uniform(0.9, 1.0, count)), from_pandas=True
        ),
        "areas": pa.ListArray.from_arrays(offsets, rng.integers(0, 200_000, offsets[-1], dtype=np.int32)),
        "source": np.char.add(video_ids[owner], np.where(is_manual, "_manual.json", "_auto.json")),
    }
    index_dir.mkdir(parents=True, exist_ok=True)
    write_index_table(pa.table(videos, schema=VIDEOS_SCHEMA), index_dir / VIDEOS_FILE)
    write_index_table(pa.table(masklets, schema=MASKLETS_SCHEMA), index_dir / MASKLETS_FILE)
    write_index_meta(index_dir, "<generated>")
    return count


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def cli_seconds(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "savkit", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_stats_and_query(work: Path, num_videos: int) -> None:
    index_dir = work / "index_large"
    seconds, masklets = timed(lambda: write_synthetic_index(index_dir, num_videos))
    size_mb = sum(path.stat().st_size for path in index_dir.iterdir()) / 1e6
    print(
        f"\ngenerated an index of {num_videos:,} videos, {masklets:,} masklets ({size_mb:.0f} MB) in {seconds:.1f} s"
    )
    stats_s, stats = timed(lambda: index_stats(index_dir))
    assert stats["total"]["masklets"] == masklets
    query_s, result = timed(
        lambda: run_query(
            index_dir, CURATION_SQL, csv_path=work / "sel.csv", video_list_path=work / "videos.txt"
        )
    )
    stats_cli = cli_seconds("stats", str(index_dir))
    query_cli = cli_seconds(
        "query",
        str(index_dir),
        CURATION_SQL,
        "--csv",
        str(work / "sel.csv"),
        "--video-list",
        str(work / "videos.txt"),
    )
    for name, in_process, cli in (("stats", stats_s, stats_cli), ("query", query_s, query_cli)):
        verdict = "OK" if max(in_process, cli) < LIMIT_S else f"OVER {LIMIT_S} s"
        print(f"{name}: {in_process:.2f} s in-process, {cli:.2f} s as a CLI process  [{verdict}]")
    print(
        f"query selected {result.row_count:,} masklets; video list: {len((work / 'videos.txt').read_text().split()):,} videos"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--videos", type=int, default=300, help="synthetic train videos to index (~2 JSONs each)"
    )
    parser.add_argument("--index-videos", type=int, default=50_000, help="videos in the stats/query index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_index_") as tmp:
        bench_throughput(Path(tmp), args.videos)
        bench_stats_and_query(Path(tmp), args.index_videos)


if __name__ == "__main__":
    main()
