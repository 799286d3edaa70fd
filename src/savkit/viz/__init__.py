"""Overlays of SA-V masks on video frames: deterministic colours per masklet, fills, contours and id labels."""

from savkit.viz.colors import masklet_colour
from savkit.viz.overlay import DEFAULT_STYLE, Overlay, OverlayStyle, neutral_background, prepare_overlay
from savkit.viz.render import check_selection, draw_annotated_frame, overlay_frame, render_video, write_image

__all__ = [
    "DEFAULT_STYLE",
    "Overlay",
    "OverlayStyle",
    "check_selection",
    "draw_annotated_frame",
    "masklet_colour",
    "neutral_background",
    "overlay_frame",
    "prepare_overlay",
    "render_video",
    "write_image",
]
