"""Small statistics for simulation output: quantiles, means and confidence intervals (stdlib only)."""
from __future__ import annotations

import math
import statistics
from typing import Sequence


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default); nan for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def p90(values: Sequence[float]) -> float:
    return quantile(values, 0.9)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean of independent replication results and the half-width of its 95% confidence interval."""
    m = mean(values)
    if len(values) < 2:
        return m, math.inf
    # Student t quantile (two-sided 95%) for small samples, normal beyond 30.
    t = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26, 12: 2.20,
         16: 2.13, 20: 2.09, 25: 2.06, 30: 2.05}
    n = len(values)
    factor = next((v for k, v in sorted(t.items()) if n <= k), 1.96)
    return m, factor * statistics.stdev(values) / math.sqrt(n)


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
