"""Run an evaluation: plan the tasks, score them (in worker processes), and gather the report."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from savkit.errors import SavkitError
from savkit.eval.discover import SAV_LAYOUT, EvalPlan, EvalTask
from savkit.eval.masks import read_binary_mask, read_label_mask
from savkit.eval.options import EvalOptions
from savkit.eval.protocols import get_protocol
from savkit.eval.protocols.base import TaskScores
from savkit.eval.report import EvalReport, build_report
from savkit.io.png import PngSizeMismatch
from savkit.io.process import set_up_worker


def evaluate(
    gt_root: str | os.PathLike,
    pred_root: str | os.PathLike,
    options: EvalOptions | None = None,
    progress: Callable[[Iterator[TaskScores], int], Iterator[TaskScores]] | None = None,
) -> EvalReport:
    """Evaluate the predictions under ``pred_root`` against ``gt_root``; bad input raises SavkitError.

    ``progress`` may wrap the stream of finished tasks (e.g. with a tqdm bar); it receives the stream and its length.
    """
    start = time.perf_counter()
    options = options or EvalOptions()
    protocol = get_protocol(options.protocol, options)  # an unknown name fails before any folder is listed
    plan = protocol.plan(gt_root, pred_root)
    scores = _score_tasks(plan, options)
    if progress is not None:
        scores = progress(scores, len(plan.tasks))
    collected = list(scores)
    return build_report(plan, collected, protocol, start)


def score_task(task: EvalTask, options: EvalOptions | str) -> TaskScores:
    """Score every evaluated frame of one task (runs in a worker process)."""
    if isinstance(options, str):
        options = EvalOptions(protocol=options)
    protocol = get_protocol(options.protocol, options)
    read = read_binary_mask if task.layout == SAV_LAYOUT else read_label_mask
    # The frame paths are joined as strings: cheaper than pathlib's, once per frame.
    gt_dir, pred_dir = os.fspath(task.gt_dir), os.fspath(task.pred_dir)
    first_gt = read(os.path.join(gt_dir, task.first_gt_frame)) if protocol.needs_first_gt(task) else None
    scorer = protocol.scorer(task, first_gt)
    for frame in task.frames:
        gt_path, pred_path = os.path.join(gt_dir, frame), os.path.join(pred_dir, frame)
        gt = read(gt_path)
        try:  # the prediction's declared size is checked before it is decoded (a hostile PNG costs nothing)
            pred = read(pred_path, gt.shape)
        except PngSizeMismatch as exc:
            raise SavkitError(
                f"shape mismatch: GT {gt_path} is {_size(gt.shape)} but prediction "
                f"{pred_path} is {_size(exc.shape)}: predict at the GT's resolution"
            ) from None
        scorer.feed(frame, gt, pred)
    return scorer.finish()


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def _score_tasks(plan: EvalPlan, options: EvalOptions) -> Iterator[TaskScores]:
    work = partial(score_task, options=options)
    if options.num_processes <= 1 or len(plan.tasks) <= 1:
        yield from map(work, plan.tasks)
        return
    workers = min(options.num_processes, len(plan.tasks))
    chunksize = max(1, len(plan.tasks) // (workers * 8))
    executor = ProcessPoolExecutor(max_workers=workers, initializer=set_up_worker)
    try:
        yield from executor.map(work, plan.tasks, chunksize=chunksize)
    except BrokenProcessPool:
        raise SavkitError(
            "a worker process died (out of memory or killed?): rerun with fewer -n processes"
        ) from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
