"""Array measures behind the statistics: distributions and robust z-scores."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.stats.measures import distribution, robust_z


def test_distribution_numbers_and_histogram():
    d = distribution(np.array([1.0, 2.0, 3.0, 4.0, np.nan]), bins=3, value_range=(1, 4))
    assert d["count"] == 4 and d["mean"] == 2.5 and d["median"] == 2.5
    assert d["p5"] == pytest.approx(1.15) and d["p95"] == pytest.approx(3.85)
    assert d["histogram"] == {"edges": [1.0, 2.0, 3.0, 4.0], "counts": [1, 1, 2]}
    assert distribution(np.array([]))["mean"] is None


def test_robust_z_flags_the_odd_value_of_its_own_group_only():
    values = np.array([10, 11, 10, 12, 11, 60, 100, 101, 99, 100])
    groups = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    z = robust_z(values, groups)
    assert np.argmax(np.abs(z)) == 5 and z[5] > 20
    assert np.all(np.abs(z[6:]) < 2)
    # more than half identical: the MAD is 0 and the mean absolute deviation stands in
    z = robust_z(np.array([5, 5, 5, 5, 9]), np.zeros(5))
    assert z[4] > 2 and np.all(z[:4] == 0)
    assert np.all(robust_z(np.array([3, 3, 3]), np.zeros(3)) == 0)
