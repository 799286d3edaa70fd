"""The other benchmarks' protocols (vost, davis2017-unsupervised, mosev2, lvos): savkit against each reference's
algorithm, per object-frame, one process each (tests/test_eval_protocols.py checks the numbers agree to 1e-9).

The references are not packages one can install and call on a folder, so each is run as the parity tests run it:
its own data flow reimplemented from its code in ``tests/protocol_references.py`` (whole frames read with PIL,
its J and F functions with scikit-image's disk and OpenCV's dilation, its statistics). The script prints
milliseconds per object-frame, best of --rounds with the methods interleaved, and the ratio, in wall-clock time and
in CPU time (both run in this one process, so its CPU time is all of their work, and it is less disturbed by other
load on a shared machine than the wall clock). Needs the test extras:

    python benchmarks/bench_protocols.py [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from savkit.eval import EvalOptions, evaluate

# isort: off
import timing  # noqa: F401  first: it puts tests/ on sys.path for the two imports below
from protocol_data import make_label_set, make_lvos_set, make_mose_set
from protocol_references import davis_unsupervised_reference, lvos_reference, mosev2_reference, vost_reference

# isort: on

SIZES = ((848, 480), (1920, 1080))


def protocol_runs(root: Path, shape: tuple[int, int], frames: int) -> dict:
    """Per protocol: (savkit run, reference run), on SA-V-like masks (the demo's moving ellipses and errors)."""
    runs = {}
    gt, pred = make_label_set(root / "vost", 0, videos=2, shape=shape, frames=frames, realistic=True)
    runs["vost"] = (
        lambda gt=gt, pred=pred: evaluate(gt, pred, EvalOptions(protocol="vost")),
        lambda gt=gt, pred=pred: vost_reference(gt, pred),
    )
    gt, pred = make_label_set(root / "unsup", 1, videos=2, shape=shape, frames=frames, realistic=True)
    runs["davis2017-unsupervised"] = (
        lambda gt=gt, pred=pred: evaluate(gt, pred, EvalOptions(protocol="davis2017-unsupervised")),
        lambda gt=gt, pred=pred: davis_unsupervised_reference(gt, pred),
    )
    gt, pred, meta = make_mose_set(root / "mose", 2, shape=shape, frames=frames, realistic=True)
    options = EvalOptions(protocol="mosev2", meta=str(root / "mose" / "meta.json"))
    runs["mosev2"] = (
        lambda gt=gt, pred=pred, o=options: evaluate(gt, pred, o),
        lambda gt=gt, pred=pred, meta=meta: mosev2_reference(gt, pred, meta),
    )
    lvos_root, pred, meta = make_lvos_set(root / "lvos", 3, shape=shape, realistic=True, object_frames=frames)
    options = EvalOptions(
        protocol="lvos",
        meta=str(lvos_root / "valid_meta.json"),
        unseen_list=str(lvos_root / "unseen_videos.txt"),
    )
    runs["lvos"] = (
        lambda r=lvos_root, pred=pred, o=options: evaluate(r, pred, o),
        lambda r=lvos_root, pred=pred, meta=meta: lvos_reference(
            r / "Annotations", pred, meta, {"lv1", "lv3"}
        ),
    )
    return runs


def best_wall_and_cpu(methods: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """Each method once per round, rounds interleaved: its best wall-clock and best CPU time (seconds)."""
    best = {name: (float("inf"), float("inf")) for name in methods}
    for _ in range(rounds):
        for name, run in methods.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def object_frames(report) -> int:
    return sum(len(o.frames.frames) for o in report.objects)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="848x480 only, one round")
    args = parser.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    frames, rounds = args.frames, 1 if args.quick else args.rounds
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in sizes:
            print(f"generating {width}x{height} data ...", flush=True)
            runs = protocol_runs(Path(tmp) / f"{width}x{height}", (height, width), frames)
            for name, (ours, reference) in runs.items():
                print(f"  {name}: timing ({rounds} rounds) ...", flush=True)
                count = object_frames(ours())
                reference()  # a warm-up, and the parity tests cover the numbers
                best = best_wall_and_cpu({"savkit": ours, "reference": reference}, rounds)
                rows.append(
                    (
                        f"{width}x{height}",
                        name,
                        *(1000 * t / count for t in best["reference"] + best["savkit"]),
                    )
                )
    print(
        f"\n{'size':<10} {'protocol':<24} {'reference ms':>12} {'savkit ms':>10} {'speed-up':>9}  CPU: "
        f"{'reference ms':>12} {'savkit ms':>10} {'speed-up':>9}"
    )
    for size, name, ref_wall, ref_cpu, our_wall, our_cpu in rows:
        print(
            f"{size:<10} {name:<24} {ref_wall:>12.2f} {our_wall:>10.2f} {ref_wall / our_wall:>8.1f}x       "
            f"{ref_cpu:>12.2f} {our_cpu:>10.2f} {ref_cpu / our_cpu:>8.1f}x"
        )
    print("(milliseconds per object-frame, best of the rounds, wall clock then CPU time, one process each)")


if __name__ == "__main__":
    main()
