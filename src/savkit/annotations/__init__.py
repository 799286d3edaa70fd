"""Typed SA-V annotations: the model, its readers and writer, RLE helpers and metadata recompute.

The names are imported on first use, so that a light command (``savkit stats``) or an index worker reading JSONs
does not load what only the val/test reader needs (Pillow, OpenCV).
"""

from savkit.lazy import lazy_attributes

_HOMES = {
    "FRAMES_PER_ANNOTATION": "model",
    "MASKLET_TYPES": "model",
    "Masklet": "model",
    "MaskletMetadata": "metadata",
    "MetadataMismatch": "metadata",
    "VideoAnnotations": "model",
    "annotated_frame_count": "model",
    "check_masklet_type": "model",
    "masklets_from_frame_rles": "metadata",
    "metadata_mismatches": "metadata",
    "read_sav_json": "sav_json",
    "read_train_video": "sav_json",
    "read_valtest_video": "valtest",
    "recompute_metadata": "metadata",
    "write_sav_json": "sav_json",
}

__all__ = sorted(_HOMES)

__getattr__ = lazy_attributes(__name__, _HOMES)
