"""savkit.torch: clips of annotated frames with masks for PyTorch (an optional extra; see test_torch_optional)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from savkit.dataset import Dataset
from video_samples import VIDEO_ID, painted_colours_match, short_sample_folder

torch = pytest.importorskip("torch", reason="the optional torch extra is not installed")
from savkit.torch import SavClips  # noqa: E402


@pytest.fixture(scope="module")
def short_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_sample_folder(tmp_path_factory.mktemp("short"))


def test_clips_hold_frames_4k_with_their_masks(short_root: Path) -> None:
    clips = list(SavClips(short_root, window=3, stride=8))
    assert len(clips) == 3  # starts at k = 0, 8, 16 of 20 annotated frames
    dataset = Dataset(short_root)
    annotations = dataset.annotations(VIDEO_ID)
    for start, (frames, masks, ids) in zip((0, 8, 16), clips, strict=True):
        assert frames.dtype == torch.uint8 and tuple(frames.shape) == (3, 3, 848, 480)
        assert masks.dtype == torch.bool and tuple(masks.shape) == (3, 14, 848, 480)
        assert ids == [("manual", i) for i in range(5)] + [("auto", i) for i in range(9)]
        for t in range(3):
            k = start + t
            assert np.array_equal(frames[t].permute(1, 2, 0).numpy(), dataset.frame(VIDEO_ID, 4 * k))
            expected = annotations.masks(k)
            assert all(np.array_equal(masks[t, n].numpy(), expected[key]) for n, key in enumerate(ids))
            manual = {i: masks[t, n].numpy() for n, (kind, i) in enumerate(ids) if kind == "manual"}
            assert painted_colours_match(frames[t].permute(1, 2, 0).numpy(), manual, k)


def test_overlapping_windows_and_short_tail_dropped(short_root: Path) -> None:
    clips = SavClips(Dataset(short_root), window=6, stride=5, type="auto")
    firsts = [(Dataset(short_root).frame(VIDEO_ID, 4 * k)) for k in (0, 5, 10)]  # 15 + 6 would end past 19
    got = [
        (frames[0].permute(1, 2, 0).numpy(), tuple(frames.shape[:2]), len(ids)) for frames, _, ids in clips
    ]
    assert [(shape, n) for _, shape, n in got] == [((6, 3), 9)] * 3
    assert all(np.array_equal(first, rgb) for first, (rgb, _, _) in zip(firsts, got, strict=True))


def test_dataloader_workers_split_the_videos(short_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clips = SavClips(short_root, video_ids=["a", "b", "c", "d", "e"])
    monkeypatch.setattr("savkit.torch.get_worker_info", lambda: SimpleNamespace(id=1, num_workers=2))
    assert clips._videos_of_this_worker() == ["b", "d"]
