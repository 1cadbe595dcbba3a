"""Figures the benchmarks share: latency percentiles from seconds, in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles_ms(values_s: Sequence[float], digits: int = 1) -> dict[str, float]:
    """p50/p90/p99/max of durations given in seconds, in milliseconds ({} for none)."""
    if not values_s:
        return {}
    array = np.asarray(values_s) * 1000
    out = {f"p{q}": round(float(np.percentile(array, q)), digits) for q in (50, 90, 99)}
    out["max"] = round(float(array.max()), digits)
    return out
