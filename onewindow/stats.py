"""Quantiles, the one definition every report, simulation and benchmark uses (stdlib only)."""
from __future__ import annotations

import math
from typing import Sequence


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default, Excel's PERCENTILE.INC); nan for no values.

    quantile(waits, 0.9) is the p90 wait: nine in ten waited at most that long."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
