"""Reading evaluation masks: binary masks for the SA-V layout, label images for the DAVIS layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from savkit.errors import SavkitError
from savkit.io.png import read_png


def read_binary_mask(path: Path) -> np.ndarray:
    """A per-object PNG as a bool mask (value > 0); more than two distinct values is an error, as in the official."""
    labels = read_png(path)
    foreground = labels.astype(bool)
    top = labels.max()
    if top and np.count_nonzero(labels == top) != np.count_nonzero(foreground):
        raise SavkitError(
            f"{path} holds more than one object (more than two pixel values): "
            "the SA-V layout wants one binary mask per object folder"
        )
    return foreground


def read_label_mask(path: Path) -> np.ndarray:
    """A DAVIS-layout PNG as its 2-D array of object ids (0 = background)."""
    return read_png(path)


def present_ids(labels: np.ndarray) -> np.ndarray:
    """The object ids present in a mask (a bool mask holds object 1), with their pixel counts."""
    if labels.dtype == bool:
        count = int(np.count_nonzero(labels))
        return np.array([[1, count]]) if count else np.empty((0, 2), dtype=np.int64)
    counts = np.bincount(labels.ravel())
    ids = np.flatnonzero(counts)
    ids = ids[ids != 0]
    return np.stack([ids, counts[ids]], axis=1)


def id_mask(labels: np.ndarray, object_id: int) -> np.ndarray:
    """The bool mask of one object id."""
    return labels if labels.dtype == bool else labels == object_id
