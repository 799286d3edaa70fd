"""PyTorch adapter: clips of consecutive annotated frames with their masks, streamed video by video.

PyTorch is an optional extra (``pip install 'savkit[torch]'``); importing this module without it raises an
ImportError that says so. The dataset is iterable rather than indexed: each video is decoded once, front to
back, and cut into clips, which keeps memory flat and avoids a seek per item. DataLoader workers split the
videos between them.

    from torch.utils.data import DataLoader
    from savkit.torch import SavClips
    for frames, masks, ids in DataLoader(SavClips("sav_train", window=8), batch_size=None, num_workers=4):
        ...  # frames (8, 3, H, W) uint8, masks (8, N, H, W) bool, ids [(type, id)] * N
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

try:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError:
    raise ImportError(
        "savkit.torch needs PyTorch, which is an optional extra: pip install 'savkit[torch]'"
    ) from None

from savkit.dataset import Dataset, Masks
from savkit.errors import SavkitError

Clip = tuple[torch.Tensor, torch.Tensor, list[tuple[str, int]]]


class SavClips(IterableDataset):
    """Clips of ``window`` consecutive annotated frames (video frames 4k), starting every ``stride`` of them.

    Each item is ``(frames, masks, ids)``: frames ``(T, 3, H, W)`` uint8 RGB, masks ``(T, N, H, W)`` bool,
    and the ``(type, id)`` of each of the N masklets. A video's last clip is dropped if it would be short.
    Use ``DataLoader(..., batch_size=None)``: clips of different videos differ in size and masklet count.
    """

    def __init__(
        self,
        root: str | os.PathLike | Dataset,
        *,
        window: int = 8,
        stride: int | None = None,
        video_ids: list[str] | None = None,
        type: str | None = None,
        lenient: bool = False,
    ) -> None:
        super().__init__()
        self.dataset = root if isinstance(root, Dataset) else Dataset(root, lenient=lenient)
        self.window = window
        self.stride = stride or window
        if self.window < 1 or self.stride < 1:
            raise SavkitError(f"window and stride must be >= 1, got window={window}, stride={stride}")
        self.video_ids = list(video_ids) if video_ids is not None else self.dataset.video_ids
        self.type = type

    def __iter__(self) -> Iterator[Clip]:
        for video_id in self._videos_of_this_worker():
            yield from self._clips(video_id)

    def _videos_of_this_worker(self) -> list[str]:
        """Every video in the main process; in a DataLoader worker, every num_workers-th video."""
        worker = get_worker_info()
        if worker is None:
            return self.video_ids
        return self.video_ids[worker.id :: worker.num_workers]

    def _clips(self, video_id: str) -> Iterator[Clip]:
        """Stream the video once, keeping only the frames of the current clip."""
        clip: list[tuple[np.ndarray, Masks]] = []
        skip = 0
        for _, rgb, masks in self.dataset.annotated_frames(video_id, type=self.type):
            if skip:
                skip -= 1
                continue
            clip.append((rgb, masks))
            if len(clip) == self.window:
                yield _to_tensors(clip)
                skip = max(self.stride - self.window, 0)
                del clip[: self.stride]


def _to_tensors(clip: list[tuple[np.ndarray, Masks]]) -> Clip:
    keys = list(clip[0][1])
    frames = np.stack([rgb for rgb, _ in clip])
    masks = np.zeros((len(clip), len(keys), *frames.shape[1:3]), dtype=bool)
    for t, (_, frame_masks) in enumerate(clip):
        for n, key in enumerate(keys):
            masks[t, n] = frame_masks[key]
    return torch.from_numpy(frames).permute(0, 3, 1, 2), torch.from_numpy(masks), keys
