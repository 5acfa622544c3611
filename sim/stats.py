"""Small statistics for simulation output: p90, means and confidence intervals (stdlib only; the quantile
itself is onewindow.stats.quantile, re-exported here)."""
from __future__ import annotations

import math
import statistics
from typing import Sequence

from onewindow.stats import quantile


def p90(values: Sequence[float]) -> float:
    return quantile(values, 0.9)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def ratio_ci95(sums: Sequence[float], counts: Sequence[int]) -> tuple[float, float]:
    """Per-ticket mean over independent replications (total / count) and its 95% half-width.

    Averaging each day's mean instead would under-weight busy days, which have both more tickets and
    longer waits (a bias of a few percent); this is the ratio estimator with the delta-method variance."""
    n = len(sums)
    total = sum(counts)
    m = sum(sums) / total
    if n < 2:
        return m, math.inf
    residuals = [s - m * c for s, c in zip(sums, counts)]
    se = math.sqrt(sum(r * r for r in residuals) / (n * (n - 1))) / (total / n)
    return m, 1.96 * se
