"""AQA metrics against scipy and hand-computed values; step transitions and attention IoU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from baseline_model.losses import temporal_soft_labels
from baseline_model.metrics import (
    aiou,
    attention_iou,
    relative_l2,
    spearman,
    tiou_transitions,
    transitions_from_attention,
)


def test_spearman_matches_scipy_including_ties():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 100, 50).round()
    pred = true + rng.normal(0, 15, 50)
    assert spearman(pred, true) == pytest.approx(stats.spearmanr(pred, true)[0])
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([4, 3, 2, 1], [10, 20, 30, 40]) == pytest.approx(-1.0)
    assert spearman(torch.tensor([1.0, 3.0, 2.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(0.5)


def test_relative_l2_is_the_mean_squared_relative_error_times_100():
    true = np.array([10.0, 20.0, 30.0, 50.0])  # range 40
    pred = np.array([14.0, 20.0, 22.0, 50.0])  # errors 4, 0, -8, 0 -> (0.1^2 + 0.2^2) / 4
    assert relative_l2(pred, true) == pytest.approx((0.01 + 0.04) / 4 * 100)
    assert relative_l2(true, true) == 0.0
    with pytest.raises(ValueError, match="not all equal"):
        relative_l2([1.0, 2.0], [5.0, 5.0])


def test_tiou_and_aiou_of_step_segments():
    true = np.array([[30, 85], [10, 50], [0, 10]])
    pred = np.array([[30, 85], [30, 70], [20, 30]])
    np.testing.assert_allclose(tiou_transitions(pred, true), [1.0, 20 / 60, 0.0])
    assert aiou(pred, true) == {0.5: pytest.approx(1 / 3), 0.75: pytest.approx(1 / 3)}


def test_transitions_read_back_from_ideal_attention():
    truth = np.array([[30, 85], [20, 60], [45, 70]])
    labels = temporal_soft_labels(torch.from_numpy(truth), 103, 20, 8, 5, 6).numpy()
    np.testing.assert_array_less(np.abs(transitions_from_attention(labels, 2, 8, 5) - truth), 2)
    with pytest.raises(ValueError, match="cannot place"):
        transitions_from_attention(labels[..., :2], 2, 8, 5)


def test_attention_iou():
    a = np.zeros((2, 4, 4))
    m = np.zeros((2, 4, 4))
    assert attention_iou(a, m) == 1.0  # nothing attended, nothing to attend
    a[0, :2] = 0.9  # 8 cells
    m[0, 1:3] = 0.6  # 8 cells, 4 shared
    m[1, 0, 0] = 0.4  # below the threshold
    assert attention_iou(a, m) == pytest.approx(4 / 12)
    assert attention_iou(torch.from_numpy(a), torch.from_numpy(m), threshold=0.3) == pytest.approx(4 / 13)
