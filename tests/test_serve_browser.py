"""``savkit serve`` in a real browser: Playwright drives Debian's chromium (headless) against uvicorn on 127.0.0.1.

The pages are used as a person would (filter the list, open a video, step with the keyboard, toggle a masklet,
switch to auto masklets, hover a mask, open a results page) and checked on the DOM and on screenshots: the
overlay colour is on screen where the mask is, and gone after the toggle.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from savkit.serve import ServeConfig
from savkit.viz import masklet_colour
from serve_samples import GREY, make_train, make_val_with_runs
from serve_server import running_server

CHROMIUM = "/usr/bin/chromium"  # Debian's package; .ci/run installs it when missing
FRAME_WIDTH = 160
POINTS = {0: (26, 28), 1: (56, 106)}  # inside manual masklets 0 and 1, away from contours and id labels
expect.set_options(timeout=15_000)  # a shared 2-core machine can be slow; a pass takes well under a second


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


@pytest.fixture(scope="module")
def train_url(tmp_path_factory: pytest.TempPathFactory):
    root = make_train(tmp_path_factory.mktemp("train"))
    with running_server(ServeConfig(root=root, workers=1)) as url:
        yield url


@pytest.fixture(scope="module")
def val_url(tmp_path_factory: pytest.TempPathFactory):
    split, perfect, degraded = make_val_with_runs(tmp_path_factory.mktemp("val"))
    with running_server(ServeConfig(root=split, results=(perfect, degraded), workers=1)) as url:
        yield url


def frame_shot(page: Page) -> tuple[np.ndarray, float]:
    """A screenshot of the frame as shown, and its scale from frame pixels to screen pixels."""
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#frame").screenshot())).convert("RGB")).astype(int)
    return shot, shot.shape[1] / FRAME_WIDTH


def colour_at(shot: np.ndarray, scale: float, point: tuple[int, int]) -> np.ndarray:
    row, col = round(point[0] * scale), round(point[1] * scale)
    return shot[row - 2 : row + 3, col - 2 : col + 3].reshape(-1, 3).mean(axis=0)


def shows_masklet(shot: np.ndarray, scale: float, masklet_id: int) -> bool:
    expected = 0.5 * np.array(masklet_colour("manual", masklet_id)) + 0.5 * GREY
    return bool(np.abs(colour_at(shot, scale, POINTS[masklet_id]) - expected).max() < 25)


def shows_grey(shot: np.ndarray, scale: float, masklet_id: int) -> bool:
    return bool(np.abs(colour_at(shot, scale, POINTS[masklet_id]) - GREY).max() < 15)


def test_list_filter_and_thumbnails(page, train_url):
    page.goto(f"{train_url}/")
    rows = page.locator("#videos tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#count")).to_have_text("3 matching")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete && i.naturalWidth === 320)"
    )
    page.select_option("select[name=environment]", "Outdoor")
    expect(rows).to_have_count(2)
    expect(page.locator("#count")).to_have_text("2 matching")
    assert "environment=Outdoor" in page.url
    page.select_option("select[name=sort]", "masklets")
    page.select_option("select[name=order]", "-")
    expect(rows.first).to_have_attribute("data-video", "sav_000003")
    page.fill("input[name=min_masklets]", "3")
    page.press("input[name=min_masklets]", "Enter")
    expect(rows).to_have_count(1)
    page.go_back()  # the filters live in the URL: back gives the previous list
    expect(rows).to_have_count(2)


def test_video_page_keyboard_toggle_and_switch(page, train_url):
    page.goto(f"{train_url}/?environment=Indoor")
    page.click("a.video-link:text('sav_000001')")
    expect(page).to_have_url(re.compile(r"/video/sav_000001$"))
    page.wait_for_selector("body[data-frame='0']")
    expect(page.locator("#title")).to_have_text("sav_000001")
    expect(page.locator("#masklets tr")).to_have_count(2)
    shot, scale = frame_shot(page)
    assert shows_masklet(shot, scale, 0) and shows_masklet(shot, scale, 1)

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # annotated frame 2: manual masklet 1 is hidden there
    page.wait_for_selector("body[data-frame='2']")
    expect(page.locator("#frame-label")).to_contain_text("annotated frame 2 / 4 (video frame 8)")
    assert page.locator("#slider").input_value() == "2"
    shot, scale = frame_shot(page)
    assert shows_masklet(shot, scale, 0) and shows_grey(shot, scale, 1)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("body[data-frame='1']")

    page.uncheck("input[data-masklet='m0']")
    page.wait_for_selector("body[data-src*='masklets=1']")
    shot, scale = frame_shot(page)
    assert shows_grey(shot, scale, 0) and shows_masklet(shot, scale, 1)
    page.check("input[data-masklet='m0']")
    page.wait_for_function("() => !document.body.dataset.src.includes('masklets=')")
    shot, scale = frame_shot(page)
    assert shows_masklet(shot, scale, 0)

    row, col = POINTS[1]
    page.hover("#frame", position={"x": col * scale, "y": row * scale})
    expect(page.locator("#tooltip")).to_be_visible()
    expect(page.locator("#tooltip")).to_contain_text("m1: manual, area 1,750 px")

    page.check("#mode input[value=auto]")
    page.wait_for_selector("body[data-src*='overlay=auto']")
    expect(page.locator("#masklets tr[data-type=auto]")).to_have_count(2)
    shot, scale = frame_shot(page)
    assert shows_grey(shot, scale, 0)  # no manual masklet drawn in auto mode


def test_playback_reaches_the_last_frame(page, train_url):
    page.goto(f"{train_url}/video/sav_000003")
    page.wait_for_selector("body[data-frame='0']")
    page.click("#play")
    page.wait_for_selector("body[data-frame='4']", timeout=5_000)
    expect(page.locator("#play")).to_have_text("▶ play")
    # the timeline strip: a click on its first fifth goes back to annotated frame 0
    page.locator("canvas.timeline").first.click(position={"x": 5, "y": 5})
    page.wait_for_selector("body[data-frame='0']")


def test_results_page_table_curves_worst_frames_and_comparison(page, val_url):
    page.goto(f"{val_url}/results/degraded")
    page.wait_for_selector("body[data-loaded]")
    rows = page.locator("#objects tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator("#summary")).to_contain_text("global J&F 66.7")
    expect(page.locator("th[data-key='J&F']")).to_contain_text("▲")  # worst first by default
    page.click("th[data-key='J&F']")  # a click on the sorted column: descending
    expect(page.locator("th[data-key='J&F']")).to_contain_text("▼")
    expect(rows.first.locator("td").nth(2)).to_have_text("100.0")
    expect(rows.last.locator("td").nth(2)).to_have_text("33.3")
    rows.last.click()
    expect(page.locator("#detail")).to_be_visible()
    points = page.locator("#curves polyline.j").get_attribute("points")
    assert len(points.split()) == 3  # three evaluated frames (first and last skipped)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#worst img')].every(i => i.complete && i.naturalWidth === 64)"
    )
    expect(page.locator("#worst img[data-kind=gt]")).to_have_count(3)
    prediction = page.locator("#worst img[data-kind=pred]").first.screenshot()
    shown = np.asarray(Image.open(io.BytesIO(prediction)).convert("RGB"))[3:-3, 3:-3]
    assert shown.max() < 40  # the prediction is empty on the worst frame: the black frame alone
    page.select_option("#compare", "perfect")
    expect(page.locator("th[data-key=other]")).to_have_text("J&F perfect")
    expect(page.locator("td.delta-up", has_text="66.7")).to_have_count(2)  # the two degraded objects
    assert "compare=perfect" in page.url
