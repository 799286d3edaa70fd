"""savkit report and savkit compare: the statistics against scipy, the pages' sections, the CLI, the demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from savkit.cli import main
from savkit.errors import SavkitError
from savkit.report.compare import compare_results
from savkit.report.stats import paired_bootstrap_ci, sign_test

SECTIONS = ("global", "distribution", "by-size", "by-frames", "worst")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """A small evaluated demo set: results.json with its GT and prediction roots."""
    out = tmp_path_factory.mktemp("demo") / "d"
    assert main(["demo", "-q", "--out", str(out)]) == 0
    return out


def shifted_copy(results: Path, target: Path, shift) -> Path:
    """B: A's results with each object's J&F moved by shift(index)."""
    data = json.loads(results.read_text())
    for i, obj in enumerate(data["objects"]):
        obj["J&F"] += shift(i)
    data["global"]["J&F"] = float(np.mean([o["J&F"] for o in data["objects"]]))
    target.write_text(json.dumps(data))
    return target


@pytest.mark.parametrize("deltas", [[1, 2, 3, -1], [0.5] * 9 + [-0.1], [3, -2, 0, 0, 1, -5, 2, 2], [-1] * 4])
def test_sign_test_equals_scipy_binomtest(deltas):
    positive, negative = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
    expected = scipy_stats.binomtest(positive, positive + negative, 0.5).pvalue
    assert sign_test(np.array(deltas)) == pytest.approx(expected, rel=1e-12)


def test_sign_test_by_hand():
    assert sign_test(np.array([1.0] * 5)) == pytest.approx(2 / 32)
    assert sign_test(np.array([0.0, 0.0])) == 1.0


def test_bootstrap_is_seeded_and_agrees_with_scipy():
    deltas = np.random.default_rng(3).normal(1.0, 2.0, size=200)
    low, high = paired_bootstrap_ci(deltas)
    assert (low, high) == paired_bootstrap_ci(deltas)  # reproducible
    assert low < deltas.mean() < high
    reference = scipy_stats.bootstrap(
        (deltas,), np.mean, method="percentile", n_resamples=10_000, random_state=1
    )
    assert low == pytest.approx(reference.confidence_interval.low, abs=0.06)
    assert high == pytest.approx(reference.confidence_interval.high, abs=0.06)
    assert paired_bootstrap_ci(np.full(7, 2.5)) == (2.5, 2.5)


def test_compare_matches_objects_and_reports_the_difference(demo_run, tmp_path):
    a = demo_run / "results.json"
    b = shifted_copy(a, tmp_path / "b.json", lambda i: 2.0 if i % 3 else -1.0)
    comparison = compare_results(a, b)
    deltas = [o.delta for o in comparison.objects]
    assert deltas == pytest.approx([2.0 if i % 3 else -1.0 for i in range(len(deltas))])
    assert comparison.delta["J&F"] == pytest.approx(np.mean(deltas))
    assert comparison.ci95[0] <= np.mean(deltas) <= comparison.ci95[1]
    assert comparison.most(1, improved=False)[0].delta == pytest.approx(-1.0)


def test_compare_refuses_other_objects_or_protocols(demo_run, tmp_path):
    a = demo_run / "results.json"
    data = json.loads(a.read_text())
    data["objects"] = data["objects"][1:]
    (tmp_path / "fewer.json").write_text(json.dumps(data))
    with pytest.raises(SavkitError, match="different objects"):
        compare_results(a, tmp_path / "fewer.json")
    data = json.loads(a.read_text())
    data["protocol"] = "davis2017"
    (tmp_path / "other.json").write_text(json.dumps(data))
    with pytest.raises(SavkitError, match="same protocol"):
        compare_results(a, tmp_path / "other.json")


def test_compare_cli_prints_and_writes_json_and_html(demo_run, tmp_path, capsys):
    a = demo_run / "results.json"
    b = shifted_copy(a, tmp_path / "b.json", lambda i: 1.0)
    argv = ["compare", str(a), str(b), "--json", str(tmp_path / "c.json"), "--out", str(tmp_path / "c.html")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "95% CI" in out and "sign test p" in out and "improved most" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert set(data) >= {"delta", "ci95", "sign_test_p", "objects"}
    assert data["delta"]["J&F"] == pytest.approx(1.0) and data["ci95"] == pytest.approx([1.0, 1.0])
    assert set(data["objects"][0]) == {"video", "object", "a", "b", "delta"}
    page = (tmp_path / "c.html").read_text()
    assert page.count("<svg") == 2 and not external_urls(page)


def external_urls(page: str) -> list[str]:
    """URLs the page would fetch (src/href/url()); SVG namespace declarations are names, not requests."""
    return re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//|url\(\s*[\"']?(?:https?:)?//", page)


def test_report_html_has_every_section_and_no_external_url(demo_run, tmp_path):
    out = tmp_path / "report.html"
    argv = ["report", str(demo_run / "results.json"), "--out", str(out), "-q"]
    assert (
        main(
            argv + ["--gt_root", str(demo_run / "gt"), "--pred_root", str(demo_run / "pred"), "--worst", "3"]
        )
        == 0
    )
    page = out.read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert page.count("<svg") == 3 + 3  # three plots and three worst objects' curves
    assert page.count("data:image/png;base64,") == 3 * 3  # GT | prediction at 3 worst frames of each
    assert not external_urls(page)
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_markdown_writes_its_images_beside_it(demo_run, tmp_path):
    out = tmp_path / "summary.md"
    assert main(["report", str(demo_run / "results.json"), "--format", "md", "--out", str(out), "-q"]) == 0
    text = out.read_text()
    images = re.findall(r"\]\((summary_files/[^)]+\.png)\)", text)
    assert len(images) == 3 + 5 and all((tmp_path / image).read_bytes()[:4] == b"\x89PNG" for image in images)


def test_report_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{}")
    assert main(["report", str(tmp_path / "bad.json")]) == 2
    assert "not a results.json" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "bad.json"), "--gt_root", str(tmp_path)]) == 2
    assert "go together" in capsys.readouterr().err


def test_demo_writes_its_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "-n", "1"]) == 0
    assert f"report:      {tmp_path / 'd' / 'report.html'}" in capsys.readouterr().out
    assert '<section id="worst">' in (tmp_path / "d" / "report.html").read_text()
