"""savkit report and compare pages in a real browser: Playwright drives Debian's chromium (headless) on the
written file. Every plot and thumbnail must render at a non-zero size, with no console error and no request
leaving the file."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import sync_playwright

from savkit.cli import main

CHROMIUM = "/usr/bin/chromium"  # Debian's package; .ci/run installs it when missing


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A report (with thumbnails) and a comparison page of the demo set."""
    root = tmp_path_factory.mktemp("report")
    demo = root / "d"
    assert main(["demo", "-q", "--out", str(demo)]) == 0
    argv = ["report", str(demo / "results.json"), "--out", str(root / "report.html"), "-q", "--worst", "2"]
    assert main(argv + ["--gt_root", str(demo / "gt"), "--pred_root", str(demo / "pred")]) == 0
    data = json.loads((demo / "results.json").read_text())
    for i, obj in enumerate(data["objects"]):
        obj["J&F"] += -3.0 if i % 2 else 1.5
    (root / "b.json").write_text(json.dumps(data))
    assert (
        main(
            ["compare", str(demo / "results.json"), str(root / "b.json"), "--out", str(root / "c.html"), "-q"]
        )
        == 0
    )
    return root / "report.html", root / "c.html"


def open_page(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda request: None if request.url.startswith(("file:", "data:")) else problems.append(request.url),
    )
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems


def rendered_sizes(page, selector: str) -> list[tuple[float, float]]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; })"
    )


def test_report_and_comparison_render_every_plot(pages):
    report, comparison = pages
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page, problems = open_page(browser, report)
            plots = rendered_sizes(page, "figure svg")
            images = rendered_sizes(page, "img")
            assert len(plots) == 3 + 2 and all(w > 100 and h > 50 for w, h in plots)
            assert len(images) == 2 * 3 and all(w > 20 and h > 20 for w, h in images)
            natural = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            assert all(width > 0 for width in natural)  # decoded, not a broken-image box
            headings = page.eval_on_selector_all("section h2", "els => els.map(e => e.textContent)")
            assert headings[0] == "Global scores" and len(headings) == 5
            assert problems == []
            page, problems = open_page(browser, comparison)
            plots = rendered_sizes(page, "figure svg")
            assert len(plots) == 2 and all(w > 100 and h > 50 for w, h in plots)
            assert "B - A" in page.inner_text("#difference") and problems == []
        finally:
            browser.close()
