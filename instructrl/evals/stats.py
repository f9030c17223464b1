"""Interval estimates for eval metrics. Pure functions, standard library + numpy only.

Win rates are means of per-prompt scores in [0, 1] (win 1, tie 0.5, loss 0; with both
presentation orders judged a prompt scores 0, .25, .5, .75 or 1). Two intervals:

- ``wilson_interval`` (the default): the Wilson score interval for a binomial proportion,
  applied to the mean score with ``n`` = number of prompts. Ties counted as half a win
  make the "successes" fractional; Wilson then is an approximation, slightly conservative
  because half-scores have less variance than a coin flip.
- ``bootstrap_interval``: percentile bootstrap over prompts, exact for any score values
  and the one to use when ties or order disagreements are frequent.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(p_hat: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for proportion ``p_hat`` from ``n`` trials.

    center = (p + z^2/2n) / (1 + z^2/n);  half = z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
    """
    if n <= 0:
        raise ValueError(f"wilson_interval needs n >= 1, got n={n}")
    if not 0.0 <= p_hat <= 1.0:
        raise ValueError(f"wilson_interval needs 0 <= p_hat <= 1, got {p_hat}")
    denom = 1.0 + z * z / n
    center = (p_hat + z * z / (2 * n)) / denom
    half = z * math.sqrt(p_hat * (1 - p_hat) / n + z * z / (4 * n * n)) / denom
    lo, hi = max(0.0, center - half), min(1.0, center + half)
    # Exact at the ends (rounding would otherwise put 1.0 outside its own interval).
    return (0.0 if p_hat == 0.0 else lo), (1.0 if p_hat == 1.0 else hi)


def bootstrap_interval(
    scores: Sequence[float], *, n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``scores`` (resampling examples)."""
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        raise ValueError("bootstrap_interval needs at least one score")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))  # (R, n)
    means = x[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mean_interval(scores: Sequence[float], method: str = "wilson", seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi) of per-example scores in [0, 1] by ``method`` ("wilson" | "bootstrap")."""
    if not scores:
        raise ValueError("mean_interval needs at least one score")
    mean = float(np.mean(scores))
    if method == "wilson":
        lo, hi = wilson_interval(mean, len(scores))
    elif method == "bootstrap":
        lo, hi = bootstrap_interval(scores, seed=seed)
    else:
        raise ValueError(f"interval method must be 'wilson' or 'bootstrap', got {method!r}")
    return mean, lo, hi
