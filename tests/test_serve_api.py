"""``savkit serve``'s JSON API and images through Starlette's test client, on generated train and val data."""

from __future__ import annotations

import io
import json
import socket
import warnings

import numpy as np
import pytest
from PIL import Image

from savkit.annotations import VideoAnnotations, write_sav_json
from savkit.cli import main
from savkit.cli.serve import _is_loopback
from savkit.dataset import Dataset
from savkit.errors import SavkitError
from savkit.io.png import read_png
from savkit.serve import ServeConfig, create_app, open_site
from savkit.serve.catalog import INDEX_FOLDER
from savkit.serve.frames import ByteLRU, FrameServer
from savkit.serve.results import load_runs
from savkit.viz import masklet_colour, overlay_frame
from serve_samples import AUTO_BOXES, GREY, VAL_VIDEOS, make_train, make_val_with_runs
from video_samples import barcode_video, count_video_work, index_frame, read_index, write_index_video

with warnings.catch_warnings():  # starlette's notice about httpx's successor; httpx is what is installed here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

BASE_URL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def train_root(tmp_path_factory: pytest.TempPathFactory):
    return make_train(tmp_path_factory.mktemp("train"))


@pytest.fixture(scope="module")
def train_site(train_root):
    site = open_site(ServeConfig(root=train_root, workers=1))
    yield site
    site.close()


@pytest.fixture(scope="module")
def client(train_site) -> TestClient:
    return TestClient(create_app(train_site), base_url=BASE_URL, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def val(tmp_path_factory: pytest.TempPathFactory):
    return make_val_with_runs(tmp_path_factory.mktemp("val"))


@pytest.fixture(scope="module")
def val_client(val) -> TestClient:
    split, perfect, degraded = val
    site = open_site(ServeConfig(root=split, results=(perfect, degraded), workers=1))
    yield TestClient(create_app(site), base_url=BASE_URL, raise_server_exceptions=False)
    site.close()


def jpeg(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return decoded_jpeg(response.content).astype(int)


def decoded_jpeg(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def patch_colour(rgb: np.ndarray, row: int, col: int) -> np.ndarray:
    return rgb[row - 1 : row + 2, col - 1 : col + 2].reshape(-1, 3).mean(axis=0)


def blended(masklet_type: str, masklet_id: int, background: int = GREY) -> np.ndarray:
    return 0.5 * np.array(masklet_colour(masklet_type, masklet_id)) + 0.5 * background


# points inside each box, away from its contour and its id label (drawn at the box centre)
MANUAL_POINTS = {0: (26, 28), 1: (56, 106)}


def test_video_list_filters_sorts_and_pages(client):
    page = client.get("/api/videos").json()
    assert page["total"] == 3
    assert [v["video_id"] for v in page["videos"]] == ["sav_000001", "sav_000002", "sav_000003"]
    first = page["videos"][0]
    assert (first["n_manual"], first["n_auto"], first["masklets"], first["environment"]) == (
        2,
        2,
        4,
        "Indoor",
    )
    assert first["visibility_changes"] == 2  # manual 1 is hidden on one annotated frame: two switches

    outdoor = client.get("/api/videos?environment=Outdoor&sort=-masklets").json()
    assert [v["video_id"] for v in outdoor["videos"]] == ["sav_000003", "sav_000002"]
    assert client.get("/api/videos?min_masklets=4").json()["total"] == 1
    assert client.get("/api/videos?max_masklets=1").json()["videos"][0]["video_id"] == "sav_000002"
    assert client.get("/api/videos?min_visibility_changes=1").json()["total"] == 2
    assert client.get("/api/videos?q=0003").json()["videos"][0]["video_id"] == "sav_000003"
    assert client.get("/api/videos?split=val").json()["total"] == 0
    assert client.get("/api/videos?min_duration=1.5").json()["total"] == 0
    assert client.get("/api/videos?max_duration=1").json()["total"] == 3
    second = client.get("/api/videos?limit=1&offset=1").json()
    assert (second["total"], second["offset"], [v["video_id"] for v in second["videos"]]) == (
        3,
        1,
        ["sav_000002"],
    )


def test_size_bucket_filter_matches_the_masklets(client):
    for bucket in ("small", "medium", "large"):
        page = client.get(f"/api/videos?size_bucket={bucket}").json()
        for video in page["videos"]:
            assert bucket in video["size_buckets"]
        detail = [client.get(f"/api/videos/{v}").json() for v in ("sav_000001", "sav_000002", "sav_000003")]
        expected = sum(any(m["size_bucket"] == bucket for m in d["masklets"]) for d in detail)
        assert page["total"] == expected


def test_facets(client):
    facets = client.get("/api/facets").json()
    assert facets["splits"] == ["train"]
    assert facets["environments"] == ["Indoor", "Outdoor"]
    assert facets["videos"] == 3 and facets["runs"] == []


def test_video_detail_has_masklets_with_areas_and_colours(client):
    video = client.get("/api/videos/sav_000001").json()
    assert video["annotated_frames"] == 5 and video["has_frames"]
    by_key = {(m["type"], m["masklet_id"]): m for m in video["masklets"]}
    assert set(by_key) == {("manual", 0), ("manual", 1), ("auto", 0), ("auto", 1)}
    assert by_key["manual", 1]["areas"] == [35 * 50, 35 * 50, 0, 35 * 50, 35 * 50]
    assert by_key["auto", 1]["areas"] == [0, 0, 30 * 30, 30 * 30, 0]
    assert by_key["manual", 0]["colour"] == list(masklet_colour("manual", 0))
    assert by_key["auto", 0]["stability_score"] == pytest.approx(0.92)


def test_frame_is_the_library_overlay(client, train_root):
    for k in (0, 2, 4):
        served = jpeg(client.get(f"/api/videos/sav_000001/frames/{k}.jpg"))
        expected = overlay_frame(Dataset(train_root), "sav_000001", k, type="manual").astype(int)
        assert served.shape == expected.shape
        assert np.abs(served - expected).mean() < 3  # JPEG quality 90


def test_frame_overlay_selection(client):
    rgb = jpeg(client.get("/api/videos/sav_000001/frames/0.jpg?overlay=manual"))
    for masklet_id, point in MANUAL_POINTS.items():
        assert np.abs(patch_colour(rgb, *point) - blended("manual", masklet_id)).max() < 20
    only_one = jpeg(client.get("/api/videos/sav_000001/frames/0.jpg?masklets=1"))
    assert np.abs(patch_colour(only_one, *MANUAL_POINTS[0]) - GREY).max() < 12
    assert np.abs(patch_colour(only_one, *MANUAL_POINTS[1]) - blended("manual", 1)).max() < 20
    for url in ("frames/0.jpg?overlay=none", "frames/0.jpg?masklets="):
        plain = jpeg(client.get(f"/api/videos/sav_000001/{url}"))
        assert np.abs(plain - GREY).max() < 12
    auto = jpeg(client.get("/api/videos/sav_000001/frames/2.jpg?overlay=auto"))
    rows, cols, _ = AUTO_BOXES[1]
    assert np.abs(patch_colour(auto, rows.start + 5, cols.start + 5) - blended("auto", 1)).max() < 20


def test_video_without_mp4_is_drawn_on_grey(client):
    rgb = jpeg(client.get("/api/videos/sav_000002/frames/1.jpg"))
    assert np.abs(patch_colour(rgb, *MANUAL_POINTS[0]) - blended("manual", 0, 128)).max() < 20
    assert np.abs(patch_colour(rgb, 90, 150) - 128).max() < 12


def test_hover_masklets_at_a_point(client):
    everything = client.get("/api/videos/sav_000001/frames/2/masklets?overlay=auto").json()["masklets"]
    assert [(m["id"], m["area"]) for m in everything] == [(0, 20 * 40), (1, 30 * 30)]
    assert everything[0]["stability_score"] == pytest.approx(0.92)
    row, col = MANUAL_POINTS[1]
    at = client.get(f"/api/videos/sav_000001/frames/0/masklets?x={col}&y={row}").json()["masklets"]
    assert at == [{"id": 1, "type": "manual", "area": 35 * 50, "stability_score": None}]
    hidden = client.get(f"/api/videos/sav_000001/frames/2/masklets?x={col}&y={row}").json()["masklets"]
    assert hidden == []
    outside = client.get("/api/videos/sav_000001/frames/0/masklets?x=1&y=1").json()["masklets"]
    assert outside == []


def test_thumbnail(client):
    rgb = jpeg(client.get("/api/videos/sav_000003/thumbnail.jpg"))
    assert rgb.shape == (192, 320, 3)
    assert np.abs(patch_colour(rgb, 2 * 26, 2 * 28) - blended("manual", 0)).max() < 20


def test_thumbnails_do_not_push_out_opened_videos(train_root):
    frames = FrameServer(Dataset(train_root))
    try:
        frames.state("sav_000001")
        for video_id in ("sav_000001", "sav_000002", "sav_000003"):
            assert frames.thumbnail_jpeg(video_id)[:2] == b"\xff\xd8"  # a JPEG
        assert list(frames._states) == ["sav_000001"]
    finally:
        frames.close()


def test_loopback_hosts():
    assert all(_is_loopback(host) for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(_is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"))


def test_frames_are_cached(train_site, client):
    jpegs = train_site.frames.jpegs
    first = client.get("/api/videos/sav_000003/frames/3.jpg?overlay=auto").content
    count = len(jpegs)
    again = client.get("/api/videos/sav_000003/frames/3.jpg?overlay=auto").content
    assert again == first and len(jpegs) == count
    assert 0 < jpegs.size_bytes <= jpegs.max_bytes


def test_byte_lru_is_bounded_and_keeps_recent_items():
    cache = ByteLRU(100)
    for key in range(5):
        cache.put(key, bytes(30), 30)
        if key == 2:
            assert cache.get(0) is not None  # touched: 1 is now the oldest
    assert cache.size_bytes <= 100
    assert cache.get(4) is not None and cache.get(1) is None
    cache.put("huge", bytes(200), 200)
    assert cache.get("huge") is None and cache.size_bytes <= 100


def test_streamed_frames_are_exact(tmp_path):
    """Forward streaming, jumps back and far jumps all return the frame asked for (barcode frames)."""
    height, width = index_frame(0).shape[:2]
    write_index_video(tmp_path / "sav_000009.mp4", 40, keyframe_interval=12)
    write_sav_json(
        tmp_path / "sav_000009_manual.json",
        VideoAnnotations("sav_000009", "train", 40 / 24, 40, height, width, "Indoor", []),
        "manual",
    )
    frames = FrameServer(
        Dataset(tmp_path), cache_bytes=16
    )  # too small to keep a frame: every request decodes
    try:
        for index in (0, 4, 8, 20, 12, 36, 0, 16, 24):
            assert read_index(np.asarray(frames.background("sav_000009", index))) == index
        assert len(frames.frames) == 0
    finally:
        frames.close()


def test_first_overlay_opens_and_decodes_frame_0_once(tmp_path, monkeypatch):
    """The frame-count check measures the video with the stream that serves it: no second open or decode."""
    barcode_video(tmp_path, "sav_000009", 12)
    frames = FrameServer(Dataset(tmp_path))
    counts = count_video_work(monkeypatch)
    try:
        first = decoded_jpeg(frames.overlay_jpeg("sav_000009", 0, None, None))
        assert counts == {"opened": 1, "decoded": 1}
        assert read_index(first) == 0 and frames.state("sav_000009").annotated_frames == 3
        assert read_index(decoded_jpeg(frames.overlay_jpeg("sav_000009", 1, None, None))) == 4
    finally:
        frames.close()


def test_first_overlay_still_checks_the_displayed_size_and_the_frame_count(tmp_path):
    rotated, short = tmp_path / "rotated", tmp_path / "short"
    for folder in (rotated, short):
        folder.mkdir()
    barcode_video(rotated, "sav_000009", 8, rotate=True)
    frames = FrameServer(Dataset(rotated))
    try:  # masks of the displayed (turned) size fit; the stream's frame 0 gave that size
        assert decoded_jpeg(frames.overlay_jpeg("sav_000009", 0, None, None)).shape[:2] == (
            index_frame(0).shape[1],
            index_frame(0).shape[0],
        )
    finally:
        frames.close()
    wrong_size = VideoAnnotations("sav_000009", "train", 8 / 24, 8, *index_frame(0).shape[:2], "Indoor", [])
    write_sav_json(rotated / "sav_000009_manual.json", wrong_size, "manual")  # the coded size: refused
    frames = FrameServer(Dataset(rotated))
    try:
        with pytest.raises(SavkitError, match=r"frames are 48x\d+ but the masks are \d+x48"):
            frames.overlay_jpeg("sav_000009", 0, None, None)
    finally:
        frames.close()
    barcode_video(short, "sav_000009", 8, json_frames=12)
    frames = FrameServer(Dataset(short))
    try:
        with pytest.raises(SavkitError, match="the video has 8 frames but video_frame_count is 12"):
            frames.overlay_jpeg("sav_000009", 0, None, None)
    finally:
        frames.close()


TRAVERSALS = [
    "/api/videos/..%2f..%2fetc%2fpasswd/frames/0.jpg",
    "/api/videos/..%2F..%2Fetc%2Fpasswd",
    "/api/videos/%2e%2e/frames/0.jpg",
    "/api/videos/..%2f..%2fetc%2fpasswd/thumbnail.jpg",
    "/video/..%2f..%2fetc%2fpasswd",
    "/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/../../../../etc/passwd",
    "/api/results/..%2f..%2fetc%2fpasswd",
    "/api/videos/sav_000099",
    "/video/sav_000099",
    "/api/videos/sav_000001/frames/5.jpg",
    "/no/such/page",
]


def assert_json_error(response, status: int) -> None:
    """An error answer: the status, as JSON with a message, nothing of a traceback or of /etc/passwd."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["error"]
    assert "Traceback" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("url", TRAVERSALS)
def test_unknown_paths_are_404_json(client, url):
    assert_json_error(client.get(url), 404)


BAD_VALUES = [
    "/api/videos?limit=abc",
    "/api/videos?limit=0",
    "/api/videos?limit=501",
    "/api/videos?offset=-1",
    "/api/videos?sort=bogus",
    "/api/videos?sort=video_id;DROP TABLE catalog",
    "/api/videos?size_bucket=huge",
    "/api/videos?min_duration=1e999",
    "/api/videos?min_masklets=1.5",
    "/api/videos?run=nope",
    "/api/videos/sav_000001/frames/abc.jpg",
    "/api/videos/sav_000001/frames/0.jpg?overlay=bogus",
    "/api/videos/sav_000001/frames/0.jpg?masklets=a,b",
    "/api/videos/sav_000001/frames/0.jpg?masklets=7",
    "/api/videos/sav_000001/frames/0/masklets?x=3",
    "/api/videos/sav_000001/frames/0/masklets?overlay=none",
]


@pytest.mark.parametrize("url", BAD_VALUES)
def test_bad_values_are_422_json(client, url):
    assert_json_error(client.get(url), 422)


def test_list_still_answers_after_bad_sql_like_input(client):
    assert client.get("/api/videos?q=' OR 1=1 --").json()["total"] == 0
    assert client.get("/api/videos").json()["total"] == 3


def test_internal_errors_are_json_without_traceback(train_site, client, monkeypatch):
    def broken(video_id):
        raise RuntimeError("boom")

    monkeypatch.setattr(train_site.frames, "thumbnail_jpeg", broken)
    response = client.get("/api/videos/sav_000001/thumbnail.jpg")
    assert response.status_code == 500
    assert response.json()["error"].startswith("internal error (RuntimeError)")
    assert "Traceback" not in response.text and "boom" not in response.text


def test_foreign_host_header_is_refused(client):
    response = client.get("/api/videos", headers={"host": "attacker.example"})
    assert response.status_code == 400


def test_pages_are_served_offline(client):
    for url in ("/", "/video/sav_000001"):
        response = client.get(url)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "http://" not in response.text and "https://" not in response.text  # no CDN
    for name in ("style.css", "common.js", "list.js", "video.js", "results.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and "https://" not in response.text


def test_index_is_built_in_root_and_reused(train_root, train_site):
    assert train_site.index_dir == train_root / INDEX_FOLDER
    stamp = (train_root / INDEX_FOLDER / "masklets.parquet").stat().st_mtime_ns
    again = open_site(ServeConfig(root=train_root, workers=1))
    again.close()
    assert (train_root / INDEX_FOLDER / "masklets.parquet").stat().st_mtime_ns == stamp


def test_given_index_must_be_an_index(train_root, tmp_path):
    (tmp_path / "index.json").write_text("[]")
    with pytest.raises(SavkitError, match="not a savkit index"):
        open_site(ServeConfig(root=train_root, index_dir=tmp_path, workers=1))


def test_val_layout_list_and_frames(val_client, val):
    split = val[0]
    page = val_client.get("/api/videos").json()
    assert [v["video_id"] for v in page["videos"]] == VAL_VIDEOS
    masks = [
        read_png(split / "Annotations_6fps" / VAL_VIDEOS[0] / f"{obj:03d}" / "00008.png") > 0
        for obj in (0, 1)
    ]
    rgb = jpeg(val_client.get(f"/api/videos/{VAL_VIDEOS[0]}/frames/2.jpg"))
    expected = overlay_frame(Dataset(split), VAL_VIDEOS[0], 2, type="manual").astype(int)
    assert np.abs(rgb - expected).mean() < 6  # JPEG of a tiny frame with id labels
    assert any(mask.any() for mask in masks)
    assert np.abs(rgb[~(masks[0] | masks[1])]).mean() < 25  # the black JPEG frames outside the masks
    assert rgb[masks[0] | masks[1]].mean() > 40


def test_results_runs_and_scores(val_client, val):
    runs = val_client.get("/api/results").json()["runs"]
    assert [r["run"] for r in runs] == ["perfect", "degraded"]
    assert runs[0]["global"]["J&F"] == 100.0 and runs[0]["objects"] == 4
    degraded = val_client.get("/api/results/degraded").json()
    expected = json.loads(val[2].read_text())
    assert [o["J&F"] for o in degraded["objects"]] == [o["J&F"] for o in expected["objects"]]
    for obj in degraded["objects"]:
        scores = [(j + f) / 2 for j, f in zip(obj["J_frames"], obj["F_frames"], strict=True)]
        worst = min(scores)
        assert scores[obj["frames"].index(obj["worst_frames"][0])] == worst
    per_video = val_client.get("/api/videos?run=degraded&sort=jf").json()["videos"]
    for video in per_video:
        objects = [o["J&F"] for o in expected["objects"] if o["video"] == video["video_id"]]
        assert video["jf"] == pytest.approx(np.mean(objects))
    assert [v["jf"] for v in per_video] == sorted(v["jf"] for v in per_video)
    detail = val_client.get(f"/api/videos/{VAL_VIDEOS[0]}").json()
    assert {o["object"] for o in detail["objects"]["degraded"]} == {"000", "001"}


def test_results_gt_and_prediction_images(val_client, val):
    split = val[0]
    degraded = val_client.get("/api/results/degraded").json()
    obj = next(o for o in degraded["objects"] if o["video"] == VAL_VIDEOS[0] and o["object"] == "001")
    base = f"/api/results/degraded/objects/{obj['index']}/frames/00004.jpg"
    gt_mask = read_png(split / "Annotations_6fps" / VAL_VIDEOS[0] / "001" / "00004.png") > 0
    gt_image, pred_image = jpeg(val_client.get(f"{base}?mask=gt")), jpeg(val_client.get(f"{base}?mask=pred"))
    assert np.abs(pred_image).max() < 8  # the degraded prediction is empty there: the black frame alone
    if gt_mask.any():
        assert gt_image[gt_mask].mean() > 20
    perfect = val_client.get("/api/results/perfect").json()["objects"][obj["index"]]
    same = f"/api/results/perfect/objects/{obj['index']}/frames/{perfect['frames'][0]}.jpg"
    assert (
        np.abs(jpeg(val_client.get(f"{same}?mask=gt")) - jpeg(val_client.get(f"{same}?mask=pred"))).max() < 4
    )


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/results/nope", 404),
        ("/results/nope", 404),
        ("/api/results/degraded/objects/99/frames/00004.jpg", 404),
        ("/api/results/degraded/objects/0/frames/00000.jpg", 404),  # the first frame is not evaluated
        ("/api/results/degraded/objects/0/frames/..%2f..%2fx.jpg", 404),
        ("/api/results/degraded/objects/x/frames/00004.jpg", 422),
        ("/api/results/degraded/objects/0/frames/00004.jpg?mask=both", 422),
    ],
)
def test_results_errors(val_client, url, status):
    assert_json_error(val_client.get(url), status)


def test_results_page_is_served(val_client):
    response = val_client.get("/results/degraded")
    assert response.status_code == 200 and "results.js" in response.text


def test_results_files_are_checked(tmp_path):
    with pytest.raises(SavkitError, match="no such file"):
        load_runs([tmp_path / "missing.json"])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "objects": [
                    {
                        "video": "../../etc",
                        "object": "000",
                        "J&F": 1,
                        "J": 1,
                        "F": 1,
                        "frames": ["00004"],
                        "J_frames": [1],
                        "F_frames": [1],
                    }
                ]
            }
        )
    )
    with pytest.raises(SavkitError, match="not a plain video id"):
        load_runs([bad])
    bad.write_text("[1, 2]")
    with pytest.raises(SavkitError, match="not a results.json"):
        load_runs([bad])


def test_run_names_are_unique(val):
    _, perfect, degraded = val
    runs = load_runs([perfect, perfect.parent, degraded])
    assert list(runs) == ["perfect", "perfect-2", "degraded"]


def test_cli_errors_are_one_line(train_root, tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert main(["serve", str(tmp_path / "missing"), "--port", str(free), "-q"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["serve", str(train_root), "--port", "70000"]) == 2
    assert "--port must be 1..65535" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", str(train_root), "--port", str(port), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass another --port" in err
