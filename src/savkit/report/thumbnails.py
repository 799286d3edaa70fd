"""GT and prediction side by side at an object's worst frames, drawn with the library's overlay code."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from savkit.eval.results_file import object_mask
from savkit.viz.overlay import OverlayStyle, neutral_background, prepare_overlay

THUMBNAIL_HEIGHT = 180
MARGIN = 24
STYLE = OverlayStyle(labels=False)


def side_by_side(gt_root: Path, pred_root: Path, obj: dict, frame: str) -> bytes | None:
    """A PNG: the GT (left) and the prediction (right) of one object on one frame, cropped around both masks;
    None when the GT frame is not under ``gt_root``."""
    gt = object_mask(gt_root, obj, frame)
    if gt is None:
        return None
    pred = object_mask(pred_root, obj, frame)
    if pred is None or pred.shape != gt.shape:
        pred = np.zeros_like(gt)
    top, bottom, left, right = _crop(gt | pred)
    colour_key = ("manual", int(obj["object"]))
    panels = []
    for mask in (gt, pred):
        overlay = prepare_overlay({colour_key: mask}, mask.shape, STYLE)
        panels.append(overlay.draw(neutral_background(*mask.shape))[top:bottom, left:right])
    gap = np.full((bottom - top, 6, 3), 255, np.uint8)
    image = np.concatenate([panels[0], gap, panels[1]], axis=1)
    scale = THUMBNAIL_HEIGHT / image.shape[0]
    image = cv2.resize(
        image, (max(1, round(image.shape[1] * scale)), THUMBNAIL_HEIGHT), interpolation=cv2.INTER_AREA
    )
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return encoded.tobytes() if ok else None


def _crop(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns around the masks with a margin; the whole frame when both are empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = mask.shape
    if rows.size == 0:
        return 0, height, 0, width
    return (
        max(rows[0] - MARGIN, 0),
        min(rows[-1] + 1 + MARGIN, height),
        max(cols[0] - MARGIN, 0),
        min(cols[-1] + 1 + MARGIN, width),
    )
