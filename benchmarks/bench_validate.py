"""``savkit validate`` on SA-V train JSONs against recomputing the metadata by decoding every mask.

Copies the real sample (sav_000001 manual + auto JSONs, 14 masklets x 121 annotated frames) into a folder of
--videos videos, then times, interleaved over --rounds (best kept):

* validate JSONs: every JSON check of ``savkit validate`` (schema, RLE sizes and runs, list lengths, metadata
  recomputed from RLE areas), in one process;
* decode all masks: what a checker without RLE areas does for the metadata alone (pycocotools decode of every
  mask, pixel sums), as the official notebook's ``decode_video``/``sav_utils`` loads masks.

    python benchmarks/bench_validate.py [--videos 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from savkit.validate import validate_paths
from timing import best_times, sample_folder


def make_folder(root: Path, videos: int) -> list[Path]:
    jsons = []
    for i in range(videos):
        for masklet_type in ("manual", "auto"):
            source = sample_folder() / f"sav_000001_{masklet_type}.json"
            data = json.loads(source.read_text())
            data["video_id"] = f"sav_{i:06d}"
            target = root / f"sav_{i:06d}_{masklet_type}.json"
            target.write_text(json.dumps(data))
            jsons.append(target)
    return jsons


def validate_jsons(jsons: list[Path]) -> int:
    return len(validate_paths(jsons, workers=1))


def decode_all_masks(jsons: list[Path]) -> int:
    """Mean visible area per masklet from decoded masks (the metadata part only)."""
    checked = 0
    for path in jsons:
        data = json.loads(path.read_text())
        areas = np.array([[mask_utils.decode(r).sum() for r in frame] for frame in data["masklet"]])
        visible = areas > 0
        checked += int(np.count_nonzero((areas * visible).sum(0) / np.maximum(visible.sum(0), 1) >= 0))
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # pycocotools decode under numpy 2
    root = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    try:
        jsons = make_folder(root, args.videos)
        assert validate_jsons(jsons) == 0, "the copied sample must validate cleanly"
        methods = {
            "validate JSONs": lambda: validate_jsons(jsons),
            "decode all masks": lambda: decode_all_masks(jsons),
        }
        best = best_times(methods, args.rounds)
    finally:
        shutil.rmtree(root)
    print(
        f"{args.videos} videos x 2 JSONs (848x480, 14 masklets x 121 annotated frames), best of {args.rounds}"
    )
    for name, seconds in best.items():
        print(
            f"  {name:18s} {seconds * 1000 / args.videos:8.1f} ms/video  {args.videos / seconds:8.1f} videos/s"
        )
    ratio = best["decode all masks"] / best["validate JSONs"]
    print(f"validate is {ratio:.1f}x faster than decoding the masks for the metadata alone")


if __name__ == "__main__":
    main()
