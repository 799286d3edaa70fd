"""SA-V and DAVIS-2017 video object segmentation evaluation (J&F), exact and fast."""

from savkit.eval.evaluate import evaluate, score_task
from savkit.eval.metrics import boundary_map, score_frame, tolerance_disk
from savkit.eval.options import EvalOptions
from savkit.eval.report import EvalReport, ObjectResult

__all__ = [
    "EvalOptions",
    "EvalReport",
    "ObjectResult",
    "boundary_map",
    "evaluate",
    "score_frame",
    "score_task",
    "tolerance_disk",
]
