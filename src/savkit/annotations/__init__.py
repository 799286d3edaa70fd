"""Typed SA-V annotations: the model, its readers and writer, RLE helpers and metadata recompute."""

from savkit.annotations.metadata import (
    MaskletMetadata,
    MetadataMismatch,
    masklets_from_frame_rles,
    metadata_mismatches,
    recompute_metadata,
)
from savkit.annotations.model import (
    FRAMES_PER_ANNOTATION,
    MASKLET_TYPES,
    Masklet,
    VideoAnnotations,
    annotated_frame_count,
    check_masklet_type,
)
from savkit.annotations.sav_json import read_sav_json, read_train_video, write_sav_json
from savkit.annotations.valtest import read_valtest_video

__all__ = [
    "FRAMES_PER_ANNOTATION",
    "MASKLET_TYPES",
    "Masklet",
    "MaskletMetadata",
    "MetadataMismatch",
    "VideoAnnotations",
    "annotated_frame_count",
    "check_masklet_type",
    "masklets_from_frame_rles",
    "metadata_mismatches",
    "read_sav_json",
    "read_train_video",
    "read_valtest_video",
    "recompute_metadata",
    "write_sav_json",
]
