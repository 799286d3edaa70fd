"""The statistics of a comparison between two runs on the same objects: a paired bootstrap confidence interval of
the mean difference and a paired sign test."""

from __future__ import annotations

import math

import numpy as np

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def paired_bootstrap_ci(
    deltas: np.ndarray,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float]:
    """Percentile interval of the mean of per-object differences, objects resampled with replacement.

    Seeded, so the same two runs always give the same interval.
    """
    deltas = np.asarray(deltas, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):  # chunks keep memory flat for many objects
        count = min(1000, resamples - start)
        picks = rng.integers(0, len(deltas), size=(count, len(deltas)))
        means[start : start + count] = deltas[picks].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def sign_test(deltas: np.ndarray) -> float:
    """Two-sided exact sign test p-value: are improvements and regressions equally likely? Ties are dropped."""
    deltas = np.asarray(deltas, dtype=float)
    positive, negative = int(np.sum(deltas > 0)), int(np.sum(deltas < 0))
    trials = positive + negative
    if trials == 0:
        return 1.0
    smaller = min(positive, negative)
    tail = sum(math.comb(trials, k) for k in range(smaller + 1)) / 2**trials
    return min(1.0, 2 * tail)
