"""Array measures behind the statistics: distributions and robust z-scores."""

from __future__ import annotations

import numpy as np

# MAD -> standard deviation of a normal distribution; mean absolute deviation -> std likewise
_MAD_SCALE = 1.4826
_MEAN_AD_SCALE = 1.2533


def distribution(values: np.ndarray, bins: int = 20, value_range: tuple[float, float] | None = None) -> dict:
    """Mean, median, 5th/95th percentiles and a histogram, as plain JSON-able numbers."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"count": 0, "mean": None, "median": None, "p5": None, "p95": None, "histogram": None}
    counts, edges = np.histogram(v, bins=bins, range=value_range)
    p5, median, p95 = np.percentile(v, [5, 50, 95])
    return {
        "count": int(v.size),
        "mean": float(v.mean()),
        "median": float(median),
        "p5": float(p5),
        "p95": float(p95),
        "histogram": {"edges": [float(f"{e:.6g}") for e in edges], "counts": [int(c) for c in counts]},
    }


def robust_z(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """How far each value is from its group's median, in robust standard deviations.

    The scale is 1.4826 x the median absolute deviation; where that is zero (more than half the
    group identical) the mean absolute deviation stands in, and a group of identical values gives
    0 everywhere. Vectorised over all groups at once.
    """
    import pandas as pd

    v = pd.Series(np.asarray(values, dtype=np.float64))
    g = pd.Series(np.asarray(groups))
    med = v.groupby(g).transform("median")
    dev = (v - med).abs()
    mad = dev.groupby(g).transform("median") * _MAD_SCALE
    mean_ad = dev.groupby(g).transform("mean") * _MEAN_AD_SCALE
    scale = mad.where(mad > 0, mean_ad).to_numpy()
    diff = (v - med).to_numpy()
    out = np.zeros(len(v), dtype=np.float64)
    ok = scale > 0
    out[ok] = diff[ok] / scale[ok]
    return out
