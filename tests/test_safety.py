"""Data safety of extract-frames, export-masks, import-masks and index: savkit deletes and replaces only what it
wrote, one run per output folder, and a run killed at any moment (SIGKILL of the main process) followed by a
plain re-run gives byte for byte the output of a clean run."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from savkit.cli import main
from savkit.demo import DemoSpec, make_demo_set
from savkit.io.lock import LOCK_NAME, locked_folder
from savkit.parallel import MARKER_DIR, is_complete, partial_folder
from savkit.synthetic import sav_json
from video_samples import write_index_video

VIDEOS = 8


def small_train_json(folder: Path, video_id: str, masklet_type: str, seed: int) -> Path:
    """A tiny SA-V train JSON (48x64, 10 annotated frames, 2 masklets): fast to export, import and index."""
    data = sav_json(
        video_id, masklet_type, 2, height=48, width=64, frame_count=40, environment="Indoor", seed=seed
    )
    path = folder / f"{video_id}_{masklet_type}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Sources for every job: mp4s, train JSONs (also the index root) and the PNG tree exported from them."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "videos").mkdir()
    (root / "train").mkdir()
    for number in range(VIDEOS):
        write_index_video(root / "videos" / f"v{number}.mp4", 24)
        for seed, masklet_type in enumerate(("manual", "auto")):
            small_train_json(root / "train", f"sav_{number:06d}", masklet_type, 10 * number + seed)
    assert main(["export-masks", str(root / "train"), str(root / "pngs"), "-q", "--workers", "1"]) == 0
    return {
        "extract-frames": root / "videos",
        "export-masks": root / "train",
        "import-masks": root / "pngs",
    } | {"index": root / "train"}


JOBS: dict[str, Callable[[Path, Path], list[str]]] = {
    "extract-frames": lambda src, out: ["extract-frames", str(src), str(out), "--every", "2"],
    "export-masks": lambda src, out: [
        "export-masks",
        str(src),
        str(out),
        "--type",
        "both",
        "--layout",
        "davis",
    ],
    "import-masks": lambda src, out: ["import-masks", str(src), str(out), "--type", "auto"],
    "index": lambda src, out: ["index", str(src), "--out", str(out)],
}


@pytest.fixture(scope="module")
def clean_outputs(inputs, tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """What an undisturbed run of each job writes (every file, hidden ones included)."""
    outputs = {}
    for job, argv in JOBS.items():
        out = tmp_path_factory.mktemp(f"clean-{job}") / "out"
        assert main([*argv(inputs[job], out), "-q", "--workers", "1"]) == 0
        outputs[job] = full_tree(out)
    return outputs


def full_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "savkit", *argv, "-q", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (workers, forkserver, resource tracker), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# ---------------------------------------------------------------------------------- kills and overlapping runs


def progress(out: Path) -> int:
    """How far a run got: videos marked (being written or complete), or index tables written."""
    marked = [p for p in (out / MARKER_DIR).glob("*.json")] if (out / MARKER_DIR).is_dir() else []
    return len(marked) + len(list(out.glob("*.parquet")))


KILLS = [("extract-frames", 1), ("extract-frames", 2), ("export-masks", 1), ("export-masks", 2)]
KILLS += [("import-masks", 1), ("index", 1)]


@pytest.mark.parametrize(("job", "seed"), KILLS)
def test_a_run_killed_at_a_random_moment_then_rerun_gives_the_clean_output(
    job, seed, inputs, clean_outputs, tmp_path
):
    out = tmp_path / "out"
    argv = JOBS[job](inputs[job], out)
    rng = random.Random(f"{job}{seed}")
    steps = rng.randint(1, 3 if job == "index" else VIDEOS)  # kill once that many videos (tables) have begun
    run = start(argv)
    assert wait_until(lambda: progress(out) >= steps or run.poll() is not None, 60)
    time.sleep(rng.uniform(0.0, 0.05))
    processes = descendants(run.pid)
    run.send_signal(signal.SIGKILL)
    run.communicate()
    # Its workers (and the forkserver) end with it instead of writing on.
    assert wait_until(lambda: not alive(processes), 10), f"left running: {alive(processes)}"
    assert main([*argv, "-q", "--workers", "1"]) == 0
    assert full_tree(out) == clean_outputs[job]


def test_eval_workers_end_with_a_killed_run(tmp_path):
    """eval's worker processes do not outlive a run killed with SIGKILL (they would wait for work forever)."""
    demo = make_demo_set(tmp_path / "demo", DemoSpec(videos=8, annotated_frames=40))
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "savkit",
            "eval",
            "--gt_root",
            str(demo.gt_root),
            "--pred_root",
            str(demo.pred_root),
        ]
        + ["-n", "2", "-q", "--output-dir", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL,  # not pipes: workers left alive would hold them open
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(lambda: len(alive(descendants(run.pid))) >= 2 or run.poll() is not None, 60)
    processes = alive(descendants(run.pid))
    assert run.poll() is None and len(processes) >= 2, "the run ended before it could be killed"
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert wait_until(lambda: not alive(processes), 10), f"left running: {alive(processes)}"


@pytest.mark.parametrize("job", list(JOBS))
def test_overlapping_runs_never_mix_their_outputs(job, inputs, clean_outputs, tmp_path):
    out = tmp_path / "out"
    argv = JOBS[job](inputs[job], out)
    runs = [start(argv), start(argv)]
    results = [(run.wait(60), run.communicate()[1]) for run in runs]
    for code, err in results:
        # Either it ran (first, or after the other ended; notes and warnings may come) or it refused at once, in
        # one line.
        if code == 0:
            assert "error" not in err, err
        else:
            assert code == 2 and "is in use by another savkit run" in err and err.count("\n") == 1, err
    assert main([*argv, "-q", "--workers", "1"]) == 0
    assert full_tree(out) == clean_outputs[job]


@pytest.mark.parametrize("job", list(JOBS))
def test_a_held_lock_refuses_a_second_run_in_one_line_naming_the_holder(job, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    with locked_folder(out):
        assert main([*JOBS[job](inputs[job], out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in use by another savkit run" in err
    assert f"pid {os.getpid()} on host " in err
    assert not (out / LOCK_NAME).exists()  # released: the lock file goes with it


def test_a_lock_left_by_a_killed_run_is_taken_over(inputs, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from savkit.io.lock import locked_folder\nwith locked_folder({str(out)!r}): input()",
        ],
        stdin=subprocess.PIPE,
    )
    assert wait_until(lambda: (out / LOCK_NAME).exists() and (out / LOCK_NAME).stat().st_size > 0, 30)
    holder.kill()
    holder.wait()
    assert json.loads((out / LOCK_NAME).read_text())["pid"] == holder.pid  # left behind, naming a dead pid
    assert main(["index", str(inputs["index"]), "--out", str(out), "-q"]) == 0
    assert not (out / LOCK_NAME).exists()


# ----------------------------------------------------------------------- never delete what savkit did not write


def test_ids_made_of_dots_fail_their_video_and_delete_nothing(inputs, tmp_path, capsys):
    parent = tmp_path / "parent"
    (parent / "src").mkdir(parents=True)
    (parent / "keep.txt").write_text("mine")
    dots = shutil.copy(inputs["export-masks"] / "sav_000000_manual.json", parent / "src" / ".._manual.json")
    assert main(["export-masks", str(dots), str(parent / "out"), "-q"]) == 1
    assert "the video id '..' is not a name" in capsys.readouterr().err
    assert (parent / "keep.txt").read_text() == "mine"

    out = tmp_path / "frames"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    dot = shutil.copy(inputs["extract-frames"] / "v0.mp4", tmp_path / "..mp4")  # the id "."
    assert main(["extract-frames", str(dot), str(out), "-q"]) == 1
    assert "the video id '.' is not a name" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_folder_savkit_did_not_write_fails_its_video_and_is_kept(inputs, tmp_path, capsys, overwrite):
    out = tmp_path / "out"
    (out / "v0").mkdir(parents=True)
    (out / "v0" / "keep.txt").write_text("mine")
    assert main(["extract-frames", str(inputs["extract-frames"]), str(out), "-q", *overwrite]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed: ")]
    assert failed == [
        f"failed: v0: {out / 'v0'} exists and was not written by savkit: move it or choose another output "
        "folder (savkit replaces only its own outputs, even with --overwrite)"
    ]
    assert sorted(p.name for p in (out / "v0").iterdir()) == ["keep.txt"]
    assert all(is_complete(out, f"v{number}") for number in range(1, VIDEOS))


def test_a_json_savkit_did_not_write_is_kept_by_import(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sav_000001_auto.json").write_text("{}")
    assert main(["import-masks", str(inputs["import-masks"]), str(out), "--type", "auto", "-q"]) == 1
    assert "sav_000001_auto.json exists and was not written by savkit" in capsys.readouterr().err
    assert (out / "sav_000001_auto.json").read_text() == "{}"


def test_out_equal_to_or_holding_the_sources_is_refused_up_front(inputs, tmp_path, capsys):
    videos = tmp_path / "videos"
    (videos / "v0").mkdir(parents=True)
    shutil.copy(inputs["extract-frames"] / "v0.mp4", videos / "v0" / "v0.mp4")
    mp4 = (videos / "v0" / "v0.mp4").read_bytes()
    assert main(["extract-frames", str(videos), str(videos), "-q"]) == 2
    assert main(["extract-frames", str(videos / "v0"), str(tmp_path), "-q"]) == 2  # SRC inside OUT
    assert main(["extract-frames", str(videos), str(videos / "v0"), "-q"]) == 2  # OUT a video folder of SRC
    pngs = inputs["import-masks"]
    assert main(["import-masks", str(pngs), str(pngs / "sav_000001" / "json"), "-q"]) == 2  # inside a source
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and all("choose an output folder outside the sources" in line for line in lines)
    assert lines[0].endswith(f"OUT {videos} is SRC {videos}: choose an output folder outside the sources")
    assert (videos / "v0" / "v0.mp4").read_bytes() == mp4
    assert sorted(p.name for p in videos.rglob("*")) == ["v0", "v0.mp4"]
    assert not (pngs / "sav_000001" / "json").exists()


# ------------------------------------------------------------------------- settings and leftovers of killed runs


@pytest.mark.parametrize(
    ("job", "first", "second", "recorded"),
    [
        ("extract-frames", ["--every", "4"], ["--every", "1"], "extract-frames --every 4 --quality 95"),
        (
            "export-masks",
            ["--layout", "sav"],
            ["--layout", "davis"],
            "export-masks --type manual --layout sav",
        ),
        ("export-masks", ["--type", "manual"], ["--type", "both"], "export-masks --type manual --layout sav"),
        ("import-masks", ["--split", "val"], ["--split", "test"], "import-masks --split val"),
    ],
)
def test_a_rerun_with_other_settings_is_one_error_until_overwrite(
    job, first, second, recorded, inputs, tmp_path, capsys
):
    out = tmp_path / "out"
    command = [job, str(inputs[job]), str(out), "-q", "--workers", "1"]
    assert main([*command, *first]) == 0
    before = full_tree(out)
    capsys.readouterr()  # import-masks notes its guesses
    assert main([*command, *second]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds the output of `{recorded}`" in err and "pass --overwrite" in err
    assert full_tree(out) == before
    assert main([*command, *second, "--overwrite"]) == 0
    clean = tmp_path / "clean"
    assert main([job, str(inputs[job]), str(clean), "-q", "--workers", "1", *second]) == 0
    assert full_tree(out) == full_tree(clean)


def test_leftovers_of_killed_runs_are_cleared_and_nothing_else(inputs, tmp_path):
    out = tmp_path / "out"
    assert main(["export-masks", str(inputs["export-masks"]), str(out), "-q", "--workers", "1"]) == 0
    clean = full_tree(out)
    leftovers = [
        out / ".sav_000001_manual.json.k2j3h4g5.tmp",
        out / MARKER_DIR / ".sav_000002.json.abcd_123.tmp",
    ]
    for path in leftovers:
        path.write_text("half")
    (out / ".sav_000003.x9y8z7w6.tmp").mkdir()  # an atomic_dir temporary
    (partial_folder(out, "sav_000004") / "000").mkdir(parents=True)
    users = [
        out / ".notes.tmp",
        out / "notes.abcdefgh.tmp",
        out / ".a.b.toolong12.tmp",
        out / "sav_000001.partial",
    ]
    for path in users:
        path.write_text("mine")
    assert main(["export-masks", str(inputs["export-masks"]), str(out), "-q", "--workers", "1"]) == 0
    assert full_tree(out) == clean | {str(p.relative_to(out)): b"mine" for p in users}

    index = tmp_path / "index"
    assert main(["index", str(inputs["index"]), "--out", str(index), "-q"]) == 0
    (index / ".masklets.parquet.q1w2e3r4.tmp").write_text("half")
    assert main(["index", str(inputs["index"]), "--out", str(index), "-q"]) == 0
    assert not (index / ".masklets.parquet.q1w2e3r4.tmp").exists()
