"""savkit demo: the main job on generated data, offline, with the official numbers."""

from __future__ import annotations

import json

from evaldata import official_sav_scores
from savkit.cli import main


def test_demo_generates_evaluates_and_matches_the_official(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Summary:\nGlobal score: J&F: " in printed and f"savkit eval --gt_root {out / 'gt'}" in printed
    results = json.loads((out / "results.json").read_text())
    assert 40 < results["global"]["J&F"] < 100  # imperfect predictions, not garbage
    videos = {obj["video"] for obj in results["objects"]}
    assert len(videos) == 4 and all(name.startswith("sav_") for name in videos)
    assert {frame for obj in results["objects"] for frame in obj["frames"]} <= {
        f"{4 * k:05d}" for k in range(12)
    }
    reference = official_sav_scores(out / "gt", out / "pred")
    ours = {(o["video"], o["object"]): (o["J"], o["F"]) for o in results["objects"]}
    assert ours.keys() == reference.keys()
    for key, (j, f) in reference.items():
        assert abs(ours[key][0] - j) < 1e-9 and abs(ours[key][1] - f) < 1e-9


def test_demo_quiet_prints_nothing_and_still_writes_results(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert json.loads((out / "results.json").read_text())["global"]["J&F"] > 40
    assert (out / "results.csv").is_file()


def test_demo_out_that_is_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert main(["demo", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"savkit demo: error: --out {out} is a file, not a folder: give a folder"]
    assert out.read_text() == "mine"
