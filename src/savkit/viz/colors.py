"""Deterministic masklet colours: the same (type, id) gets the same colour in every frame, video and run.

Hues step by the golden ratio so neighbouring ids look different; manual masklets are saturated and auto
masklets pastel (and half a turn of hue apart), so the two types never share a colour.
"""

from __future__ import annotations

import colorsys

GOLDEN_RATIO_CONJUGATE = 0.618033988749895
# type -> (hue offset, saturation, value)
PALETTES = {"manual": (0.0, 0.9, 1.0), "auto": (0.5, 0.4, 1.0)}


def masklet_colour(masklet_type: str, masklet_id: int) -> tuple[int, int, int]:
    """RGB colour (0-255) of a masklet, from its type and id only."""
    offset, saturation, value = PALETTES[masklet_type]
    hue = (offset + masklet_id * GOLDEN_RATIO_CONJUGATE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)
