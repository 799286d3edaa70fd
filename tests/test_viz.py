"""savkit.viz and the `show` / `render` commands: colours, overlay drawing, frame alignment, CLI errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from savkit.annotations import VideoAnnotations, write_sav_json
from savkit.cli import main
from savkit.dataset import Dataset, FrameCountWarning
from savkit.errors import SavkitError
from savkit.io.video import VideoReader
from savkit.progress import Progress
from savkit.viz import (
    OverlayStyle,
    masklet_colour,
    neutral_background,
    overlay_frame,
    prepare_overlay,
    render_video,
    write_image,
)
from video_samples import (
    VIDEO_ID,
    barcode_video,
    colours_match,
    count_video_work,
    index_frame,
    painted_colours_match,
    painted_sample_video,
    read_index,
    short_sample_folder,
    train_folder,
    valtest_folder,
)

PLAIN = OverlayStyle(alpha=1.0, contours=False, labels=False)
INVISIBLE = OverlayStyle(alpha=0.0, contours=False, labels=False)


@pytest.fixture(scope="module")
def painted_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return painted_sample_video(tmp_path_factory)


@pytest.fixture
def train_root(tmp_path: Path, sample_dir: Path, painted_video: Path) -> Path:
    return train_folder(tmp_path / "data", sample_dir, painted_video)


@pytest.fixture(scope="module")
def short_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_sample_folder(tmp_path_factory.mktemp("short"))


def viz_colours(masks: dict) -> dict:
    return {key: masklet_colour(*key) for key in masks}


def square_masks() -> dict[tuple[str, int], np.ndarray]:
    manual, auto = np.zeros((60, 80), bool), np.zeros((60, 80), bool)
    manual[10:40, 10:40] = True
    auto[20:50, 30:70] = True
    return {("manual", 3): manual, ("auto", 3): auto}


def test_colours_are_deterministic_and_distinct_per_type() -> None:
    manual = [masklet_colour("manual", i) for i in range(20)]
    auto = [masklet_colour("auto", i) for i in range(20)]
    assert manual == [masklet_colour("manual", i) for i in range(20)]
    assert len(set(manual)) == 20 and len(set(auto)) == 20 and not set(manual) & set(auto)
    assert all(max(c) - min(c) > 150 for c in manual) and all(max(c) - min(c) < 120 for c in auto)


def test_fill_blends_with_alpha_and_leaves_the_rest_alone() -> None:
    masks = square_masks()
    background = np.full((60, 80, 3), 40, np.uint8)
    drawn = prepare_overlay(masks, (60, 80), OverlayStyle(alpha=0.25, contours=False, labels=False)).draw(
        background
    )
    manual_colour, auto_colour = np.array(masklet_colour("manual", 3)), np.array(masklet_colour("auto", 3))
    only_manual = 40 * 0.75 + manual_colour * 0.25
    both = only_manual * 0.75 + auto_colour * 0.25
    assert np.abs(drawn[15, 15] - only_manual).max() <= 0.5
    assert np.abs(drawn[30, 35] - both).max() <= 0.5
    assert (drawn[55, 5] == 40).all() and (drawn[5, 75] == 40).all()


def test_blending_only_in_the_masks_box_equals_blending_the_whole_frame() -> None:
    """prepare_overlay keeps blend terms over the box around all masks only; the result is the full-frame blend."""
    rng = np.random.default_rng(5)
    masks = {}
    for number, (top, left) in enumerate([(200, 300), (260, 330), (700, 1500)]):
        mask = np.zeros((1080, 1920), bool)
        mask[top : top + 90, left : left + 120] = rng.random((90, 120)) < 0.9
        masks["manual" if number % 2 else "auto", number] = mask
    background = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    drawn = prepare_overlay(masks, (1080, 1920), OverlayStyle(alpha=0.6, contours=False, labels=False)).draw(
        background
    )
    scale, offset = np.ones((1080, 1920, 1), np.float32), np.zeros((1080, 1920, 3), np.float32)
    for (masklet_type, masklet_id), mask in masks.items():
        weight = mask[..., None] * np.float32(0.6)
        scale *= 1 - weight
        offset = (
            offset * (1 - weight) + np.array(masklet_colour(masklet_type, masklet_id), np.float32) * weight
        )
    assert np.array_equal(drawn, (background * scale + offset + 0.5).astype(np.uint8))
    assert np.array_equal(prepare_overlay({}, (1080, 1920)).draw(background), background)


def test_contours_sit_on_the_border_and_labels_inside() -> None:
    masks = {("manual", 3): square_masks()[("manual", 3)]}
    background = np.zeros((60, 80, 3), np.uint8)
    contours = prepare_overlay(masks, (60, 80), OverlayStyle(alpha=0.0, labels=False)).draw(background)
    assert (contours[10, 20] == masklet_colour("manual", 3)).all() and (contours[25, 25] == 0).all()
    labelled = prepare_overlay(masks, (60, 80), OverlayStyle(alpha=0.0, contours=False)).draw(background)
    white = np.argwhere((labelled > 180).all(axis=2))
    assert len(white) > 10 and (white.min(axis=0) >= 10).all() and (white.max(axis=0) < 40).all()
    assert np.abs(white.mean(axis=0) - 24.5).max() < 4, "the label is centred on the innermost point"


def test_overlay_is_drawn_on_video_frame_4k(train_root: Path) -> None:
    dataset = Dataset(train_root)
    for k in (0, 37, 120):
        frame = dataset.frame(VIDEO_ID, 4 * k)
        assert np.array_equal(overlay_frame(dataset, VIDEO_ID, k, style=INVISIBLE), frame)
        manual = {key[1]: mask for key, mask in dataset.annotations(VIDEO_ID).masks(k, type="manual").items()}
        assert painted_colours_match(overlay_frame(dataset, VIDEO_ID, k, style=INVISIBLE), manual, k)


def test_without_video_masks_are_drawn_on_grey(tmp_path: Path, sample_dir: Path) -> None:
    root = train_folder(tmp_path, sample_dir, video=None)
    drawn = overlay_frame(root, VIDEO_ID, 5, type="auto", ids=[1], style=PLAIN)
    masks = Dataset(root).annotations(VIDEO_ID).masks(5, type="auto", ids=[1])
    outside = ~masks[("auto", 1)]
    assert np.array_equal(drawn[outside], neutral_background(848, 480)[outside])
    assert (drawn[masks[("auto", 1)]] == masklet_colour("auto", 1)).all()


def test_bad_selection_and_frame_are_errors(train_root: Path) -> None:
    with pytest.raises(SavkitError, match=r"no manual masklet with id 7; its ids are \[0, 1, 2, 3, 4\]"):
        overlay_frame(train_root, VIDEO_ID, 0, type="manual", ids=[7])
    with pytest.raises(SavkitError, match=r"annotated frame 121 is out of range .* \(0\.\.120"):
        overlay_frame(train_root, VIDEO_ID, 121)


def test_render_at_6_fps_keeps_the_annotated_frames_in_order(
    short_root: Path, tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    out = tmp_path / "overlay.mp4"
    reports = []
    assert (
        render_video(
            short_root, VIDEO_ID, out, fps=6, type="manual", style=INVISIBLE, progress=reports.append
        )
        == 20
    )
    assert reports == [Progress(done, 20) for done in range(21)]  # the callback hears of each frame written
    assert capfd.readouterr().err == ""  # no bar from the library
    annotations = Dataset(short_root).annotations(VIDEO_ID)
    with VideoReader(out) as reader:
        assert (reader.count_frames(), reader.fps, reader.width, reader.height) == (20, 6.0, 480, 848)
        for k in (3, 11, 19):
            manual = {key[1]: mask for key, mask in annotations.masks(k, type="manual").items()}
            assert painted_colours_match(reader.frame(k), manual, k)


def test_render_at_24_fps_holds_each_annotation_over_its_four_frames(
    short_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "overlay.mp4"
    assert render_video(short_root, VIDEO_ID, out, type="manual", style=PLAIN) == 80
    masks = Dataset(short_root).annotations(VIDEO_ID).masks(12, type="manual")
    with VideoReader(out) as reader:
        assert reader.fps == 24.0
        assert all(colours_match(reader.frame(i), masks, viz_colours(masks)) for i in (48, 49, 51))
        assert not colours_match(reader.frame(52), masks, viz_colours(masks))


def test_write_image_round_trip_and_bad_suffix(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", rgb)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), rgb)
    with pytest.raises(SavkitError, match="use .png or .jpg"):
        write_image(tmp_path / "a.tiff", rgb)


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_show_writes_the_overlay(train_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "frame.png"
    code, stdout, _ = run_cli(capsys, "show", train_root, VIDEO_ID, "--frame", 12, "--manual", "--out", out)
    assert (code, stdout.strip()) == (0, f"wrote {out}: {VIDEO_ID} annotated frame 12 (video frame 48)")
    expected = overlay_frame(train_root, VIDEO_ID, 12, type="manual")
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_cli_render_gif(short_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "overlay.gif"
    args = ("render", short_root, VIDEO_ID, "--auto", "--masklets", "1,5", "--fps", 6, "--out", out, "-q")
    code, stdout, stderr = run_cli(capsys, *args)
    assert (code, stdout.strip(), stderr) == (0, f"wrote {out}: 20 frames of {VIDEO_ID}", "")
    with VideoReader(out) as reader:
        assert (reader.count_frames(), reader.width, reader.height) == (20, 480, 848)


def test_cli_missing_mp4_draws_on_neutral_background(
    tmp_path: Path, sample_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    root, out = train_folder(tmp_path / "data", sample_dir, video=None), tmp_path / "frame.png"
    code, _, stderr = run_cli(capsys, "show", root, VIDEO_ID, "--frame", 0, "--out", out)
    assert code == 0 and stderr.count("\n") == 1
    assert f"no video frames for {VIDEO_ID}" in stderr and "neutral background" in stderr
    image = np.asarray(Image.open(out))
    assert np.array_equal(image, overlay_frame(root, VIDEO_ID, 0))
    covered = np.any(list(Dataset(root).annotations(VIDEO_ID).masks(0).values()), axis=0)
    assert (image[~covered] == 128).all(axis=1).mean() > 0.97, (
        "outside the masks: grey, but contours and labels"
    )


def corrupt_mp4(root: Path, painted_video: Path) -> None:
    mp4 = root / "sav_000" / f"{VIDEO_ID}.mp4"
    mp4.unlink()
    mp4.write_bytes(painted_video.read_bytes()[:5000])


def truncate_manual_json(root: Path, sample_dir: Path) -> None:
    json_path = root / "sav_000" / f"{VIDEO_ID}_manual.json"
    json_path.unlink()
    json_path.write_text((sample_dir / json_path.name).read_text()[:20000])


@pytest.mark.parametrize(
    ("command", "break_it", "video_id", "message"),
    [
        ("show", None, "sav_000002", "video 'sav_000002' is not in"),
        ("render", None, "sav_000002", "video 'sav_000002' is not in"),
        ("show", truncate_manual_json, VIDEO_ID, "sav_000001_manual.json: not valid JSON"),
        ("render", truncate_manual_json, VIDEO_ID, "sav_000001_manual.json: not valid JSON"),
        ("show", corrupt_mp4, VIDEO_ID, "sav_000001.mp4: not a valid video (invalid data)"),
        ("render", corrupt_mp4, VIDEO_ID, "sav_000001.mp4: not a valid video (invalid data)"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(
    train_root: Path,
    tmp_path: Path,
    sample_dir: Path,
    painted_video: Path,
    capsys: pytest.CaptureFixture,
    command: str,
    break_it,
    video_id: str,
    message: str,
) -> None:
    if break_it is truncate_manual_json:
        break_it(train_root, sample_dir)
    elif break_it is corrupt_mp4:
        break_it(train_root, painted_video)
    out = tmp_path / ("frame.png" if command == "show" else "overlay.mp4")
    extra = ("--frame", 3) if command == "show" else ("-q",)
    code, stdout, stderr = run_cli(capsys, command, train_root, video_id, *extra, "--out", out)
    assert (code, stdout) == (2, "")
    assert stderr.startswith(f"savkit {command}: error: ") and stderr.count("\n") == 1
    assert message in stderr
    assert not out.exists()


def test_cli_lenient_turns_a_count_mismatch_into_one_warning_line(
    tmp_path: Path, sample_dir: Path, painted_video: Path, capsys: pytest.CaptureFixture
) -> None:
    def wrong_frame_count(data: dict) -> None:
        data["video_frame_count"] = 484.0

    root, out = (
        train_folder(tmp_path / "data", sample_dir, painted_video, edit=wrong_frame_count),
        tmp_path / "f.png",
    )
    code, _, stderr = run_cli(capsys, "show", root, VIDEO_ID, "--frame", 1, "--out", out)
    assert code == 2 and "483 frames but video_frame_count is 484" in stderr and not out.exists()
    code, _, stderr = run_cli(capsys, "show", root, VIDEO_ID, "--frame", 1, "--lenient", "--out", out)
    assert code == 0 and out.exists()
    assert stderr.startswith("savkit show: warning: ") and stderr.count("\n") == 1
    assert "483 frames but video_frame_count is 484" in stderr


def test_cli_render_without_mp4_uses_annotated_frames_on_grey(
    tmp_path: Path, sample_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    root, out = train_folder(tmp_path / "data", sample_dir, video=None), tmp_path / "overlay.mp4"
    code, stdout, stderr = run_cli(
        capsys, "render", root, VIDEO_ID, "--masklets", "1", "--manual", "--out", out
    )
    assert (code, stdout.strip()) == (0, f"wrote {out}: 121 frames of {VIDEO_ID}")
    assert "neutral background" in stderr and "render sav_000001" in stderr  # the note and the progress bar
    with VideoReader(out) as reader:
        assert (reader.fps, reader.count_frames()) == (6.0, 121)
        assert np.abs(reader.frame(60)[-1, -1].astype(int) - 128).max() <= 2


def test_cli_show_on_a_val_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    split, masks = valtest_folder(tmp_path)
    out = tmp_path / "frame.png"
    args = ("show", split, "vid", "--frame", 2, "--alpha", 1, "--no-contours", "--no-labels", "--out", out)
    assert run_cli(capsys, *args)[0] == 0
    image = np.asarray(Image.open(out))
    inside = masks[2].astype(bool)
    assert (image[inside] == masklet_colour("manual", 1)).all()
    assert (
        read_index(np.where(inside[..., None], 0, image)) == 8
    )  # the JPEG of frame 8 around the mask of k = 2


def test_show_opens_the_mp4_once_and_decodes_frame_0_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The frame-count check measures the video with the reader that draws it: one open, frame 0 decoded once."""
    barcode_video(tmp_path, "sav_000009", 12)
    counts = count_video_work(monkeypatch)
    out = tmp_path / "frame.png"
    code, _, _ = run_cli(capsys, "show", tmp_path, "sav_000009", "--frame", 0, "--out", out)
    assert (code, counts) == (0, {"opened": 1, "decoded": 1})
    assert read_index(np.asarray(Image.open(out))) == 0
    with VideoReader(tmp_path / "sav_000009.mp4") as reader:
        reader.frame(8)  # what decoding frame 8 alone costs
    alone = dict(counts)
    drawn = overlay_frame(tmp_path, "sav_000009", 2, style=INVISIBLE)
    assert read_index(drawn) == 8
    assert {key: counts[key] - alone[key] for key in counts} == {"opened": 1, "decoded": alone["decoded"] - 1}


@pytest.mark.parametrize(("fps", "rendered"), [(24, list(range(12))), (6, [0, 4, 8])])
def test_render_opens_the_mp4_once_and_decodes_each_frame_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fps: int, rendered: list[int]
) -> None:
    barcode_video(tmp_path, "sav_000009", 12)
    counts = count_video_work(monkeypatch)
    out = tmp_path / "overlay.mp4"
    assert render_video(tmp_path, "sav_000009", out, fps=fps, style=INVISIBLE) == len(rendered)
    assert counts["opened"] == 1
    assert counts["decoded"] == len(rendered) if fps == 24 else counts["decoded"] <= 12
    monkeypatch.undo()
    with VideoReader(out) as reader:
        assert [read_index(rgb) for _, rgb in reader.frames()] == rendered


def test_show_and_render_still_check_the_displayed_size_and_the_frame_count(tmp_path: Path) -> None:
    rotated, short = tmp_path / "rotated", tmp_path / "short"
    for folder in (rotated, short):
        folder.mkdir()
    barcode_video(rotated, "sav_000009", 8, rotate=True)
    turned = (index_frame(0).shape[1], index_frame(0).shape[0])
    assert overlay_frame(rotated, "sav_000009", 1, style=INVISIBLE).shape[:2] == turned
    assert render_video(rotated, "sav_000009", tmp_path / "turned.mp4", style=INVISIBLE) == 8
    coded = VideoAnnotations("sav_000009", "train", 8 / 24, 8, *index_frame(0).shape[:2], "Indoor", [])
    write_sav_json(rotated / "sav_000009_manual.json", coded, "manual")  # the coded size: refused
    for draw in (
        lambda: overlay_frame(rotated, "sav_000009", 1),
        lambda: render_video(rotated, "sav_000009", tmp_path / "refused.mp4"),
    ):
        with pytest.raises(SavkitError, match=r"frames are 48x\d+ but the masks are \d+x48"):
            draw()
    barcode_video(short, "sav_000009", 8, json_frames=12)
    for draw in (
        lambda lenient: overlay_frame(short, "sav_000009", 1, lenient=lenient),
        lambda lenient: render_video(short, "sav_000009", tmp_path / "short.mp4", lenient=lenient),
    ):
        with pytest.raises(SavkitError, match="the video has 8 frames but video_frame_count is 12"):
            draw(False)
        with pytest.warns(FrameCountWarning, match="the video has 8 frames"):
            draw(True)
    assert not (tmp_path / "refused.mp4").exists()
    with VideoReader(tmp_path / "short.mp4") as reader:
        assert reader.count_frames() == 8
