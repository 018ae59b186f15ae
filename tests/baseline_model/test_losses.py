"""Losses and their targets on hand-made inputs: Eq. 3 mask targets, temporal soft labels, L_A / L_T / L_E."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baseline_model.losses import compute_loss, mask_target, step_means, temporal_soft_labels
from baseline_model.models.tap import TemporalActionParsing
from tests.baseline_model.tiny_models import one_thread, tiny_config  # noqa: F401 (autouse fixture)


def test_mask_target_averages_frame_pairs_then_pools_spatially():
    mask = torch.zeros(1, 8, 4, 4)
    mask[0, 0] = 1.0  # frame 1 all foreground, frame 2 empty -> pair mean 0.5
    mask[0, 2, :2, :2] = 1.0  # frames 3 and 4: top-left quarter in both
    mask[0, 3, :2, :2] = 1.0
    mask[0, 6, 0, 0] = 1.0  # one pixel of 4 in the top-left cell, one frame of 2
    target = mask_target(mask, (4, 2, 2))
    assert target.shape == (1, 4, 2, 2)
    expected = torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[1.0, 0.0], [0.0, 0.0]],
                             [[0.0, 0.0], [0.0, 0.0]], [[0.125, 0.0], [0.0, 0.0]]])
    torch.testing.assert_close(target[0], expected)


def test_mask_target_stays_in_unit_range_for_any_stage_size():
    mask = (torch.rand(2, 3, 8, 16, 16) > 0.5).float()
    for size in ((4, 8, 8), (2, 4, 4), (4, 16, 16)):
        target = mask_target(mask, size)
        assert target.shape == (2, 3, *size)
        assert target.min() >= 0 and target.max() <= 1
    torch.testing.assert_close(mask_target(mask, (8, 16, 16)), mask)


def f64(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_step_means_split_steps_into_equal_sub_steps():
    # FineDiving-style transitions 30 and 85 of a 103-frame clip: steps [0,31), [31,86), [86,103)
    means = step_means([30, 85], 103, 6)
    torch.testing.assert_close(means, f64(7.25, 22.75, 44.25, 71.75, 89.75, 98.25))
    torch.testing.assert_close(step_means([30, 85], 103, 3), f64(15.0, 58.0, 94.0))
    left = step_means([30, 85], 103, 6, anchor="left")
    right = step_means([30, 85], 103, 6, anchor="right")
    torch.testing.assert_close(left, f64(0.0, 15.5, 31.0, 58.5, 86.0, 94.5))
    torch.testing.assert_close(right, f64(14.5, 30.0, 57.5, 85.0, 93.5, 102.0))


def test_step_means_padding_no_transitions_and_remainders():
    torch.testing.assert_close(step_means([-1, 30, -1, 85], 103, 6), step_means([30, 85], 103, 6))
    even = step_means([-1, -1], 100, 4)  # no transitions (MTL-AQA, AQA-7): four equal parts
    torch.testing.assert_close(even, f64(12.0, 37.0, 62.0, 87.0))
    torch.testing.assert_close(step_means([30, 85], 100, 1), f64(49.5))
    # 5 queries over 3 steps: 2 + 2 + 1
    five = step_means([30, 85], 103, 5)
    torch.testing.assert_close(five[4:], f64(94.0))
    assert five[1] < 31 <= five[2] < five[3] < 86


def test_temporal_soft_labels_are_gaussians_over_snippet_centres():
    labels = temporal_soft_labels(torch.tensor([[30, 85], [40, -1]]), 103, 20, 8, 5, 6)
    assert labels.shape == (2, 20, 6)
    torch.testing.assert_close(labels.sum(1), torch.ones(2, 6))
    centres = np.arange(20) * 5 + 3.5  # snippet i covers frames 5i .. 5i + 7
    means = np.array([7.25, 22.75, 44.25, 71.75, 89.75, 98.25])
    gauss = np.exp(-0.5 * ((centres[:, None] - means[None]) / (5 * 1.3)) ** 2)
    np.testing.assert_allclose(labels[0].numpy(), gauss / gauss.sum(0), rtol=1e-5, atol=1e-7)
    # each step's label peaks at the snippet whose centre is nearest the step's centre
    assert labels[0].argmax(0).tolist() == [1, 4, 8, 14, 17, 19]


def _outputs(cfg, delta, a_q, a_e, m_q, m_e, t1, t2):
    return {"delta": delta, "A_q": a_q, "A_e": a_e, "M_q": m_q, "M_e": m_e,
            "A1_q": t1, "A2_q": t2, "A1_e": t1, "A2_e": t2}


def test_compute_loss_terms_by_hand():
    cfg = tiny_config()
    transitions = torch.tensor([[4, 10], [3, 9]])
    batch = {"q_score": torch.tensor([80.0, 50.0]), "e_score": torch.tensor([70.0, 60.0]),
             "q_transitions": transitions, "e_transitions": transitions,
             "q_difficulty": torch.tensor([3.0, 2.0]), "e_difficulty": torch.tensor([2.0, 2.5])}
    labels = temporal_soft_labels(transitions, 16, 3, 8, 4, 3)
    a = torch.full((2, 3, 4, 2, 2), 0.25)
    m = torch.zeros(2, 3, 4, 2, 2)
    delta = torch.tensor([12.0, -7.0])
    losses = compute_loss(_outputs(cfg, delta, a, a, m, m, labels, labels), batch, cfg)
    assert losses["L_E"].item() == pytest.approx(((12 - 10) ** 2 + (-7 + 10) ** 2) / 2)
    assert losses["L_A"].item() == pytest.approx(0.25)
    assert losses["L_T"].item() == pytest.approx(0.0, abs=1e-6)  # attention equal to the labels
    uniform = torch.full_like(labels, 1 / 3)
    losses = compute_loss(_outputs(cfg, delta, a, a, m, m, uniform, labels), batch, cfg)
    kl = torch.nn.functional.kl_div(uniform.log(), labels, reduction="sum") / (2 * 3)  # per step and pair
    # A_1 terms of query and exemplar (A_2 terms are zero), averaged over the two videos
    assert losses["L_T"].item() == pytest.approx(kl.item(), rel=1e-5)
    assert losses["total"].item() == pytest.approx(sum(losses[k].item() for k in ("L_A", "L_T", "L_E")))


def test_compute_loss_dd_and_switches():
    cfg = tiny_config(loss_attention=False, loss_temporal=False)
    cfg.data.exemplar_mode = "dd"
    batch = {"q_score": torch.tensor([90.0]), "e_score": torch.tensor([50.0]),
             "q_difficulty": torch.tensor([3.0]), "e_difficulty": torch.tensor([2.5]),
             "q_transitions": torch.tensor([[4, 10]]), "e_transitions": torch.tensor([[4, 10]])}
    a = torch.full((1, 3, 4, 2, 2), 0.7)
    t = torch.full((1, 3, 3), 1 / 3)
    losses = compute_loss(_outputs(cfg, torch.tensor([5.0]), a, a, a * 0, a * 0, t, t), batch, cfg)
    assert losses["L_E"].item() == pytest.approx((5.0 - (30.0 - 20.0)) ** 2)  # raw scores 90/3 - 50/2.5
    assert losses["L_A"].item() == 0.0 and losses["L_T"].item() == 0.0  # Table 7 switches


def test_loss_without_masks_has_no_attention_term():
    cfg = tiny_config()
    out = {"delta": torch.tensor([1.0]), "A_q": torch.rand(1, 3, 4, 2, 2), "A_e": torch.rand(1, 3, 4, 2, 2)}
    batch = {"q_score": torch.tensor([3.0]), "e_score": torch.tensor([1.0])}
    losses = compute_loss(out, batch, cfg)
    assert losses["L_A"].item() == 0.0 and losses["L_E"].item() == pytest.approx(1.0)


def test_l_t_trains_tap_attention_towards_the_soft_labels():
    torch.manual_seed(0)
    tap = TemporalActionParsing(in_dim=16, dim=16, num_queries=3, num_heads=2, tau_init=1.0)
    features = torch.randn(4, 8, 16)
    labels = temporal_soft_labels(torch.tensor([[8, 20], [10, 25], [5, 30], [12, 22]]), 40, 8, 8, 4, 3)
    optimizer = torch.optim.Adam(tap.parameters(), lr=1e-2)
    kl = []
    for _ in range(150):
        _, a1, a2 = tap(features)
        loss = sum((labels * (labels.clamp_min(1e-12).log() - a.log())).sum(1).mean() for a in (a1, a2))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        kl.append(loss.item())
    assert kl[-1] < 0.2 * kl[0]


def test_attention_loss_leaves_frames_without_masks_out():
    cfg = tiny_config()
    m = cfg.model  # 16 frames, 3 snippets of 8 at stride 4; A has 4 time cells of 2 frames per snippet
    g = torch.Generator().manual_seed(0)
    a = {s: torch.rand(1, 3, 4, 8, 8, generator=g) for s in ("q", "e")}
    t = torch.softmax(torch.randn(1, 3, 3, generator=g), 1)
    masks = {s: (torch.rand(1, 3, 4, 8, 8, generator=g) > 0.5).float() for s in ("q", "e")}
    outputs = {"delta": torch.zeros(1), "A1_q": t, "A2_q": t, "A1_e": t, "A2_e": t,
               **{f"A_{s}": a[s] for s in a}, **{f"M_{s}": masks[s] for s in masks}}
    batch = {"q_score": torch.ones(1), "e_score": torch.ones(1), "q_transitions": torch.tensor([[4, 10]]),
             "e_transitions": torch.tensor([[5, -1]])}
    plain = compute_loss(outputs, batch, cfg)["L_A"]
    everywhere = {**batch, "q_mask_present": torch.ones(1, 16), "e_mask_present": torch.ones(1, 16)}
    assert compute_loss(outputs, everywhere, cfg)["L_A"] == pytest.approx(plain.item(), rel=1e-6)

    present = torch.ones(1, 16)
    present[0, 12:] = 0  # the last 4 frames: snippet 2's last two time cells
    gaps = {**batch, "q_mask_present": present, "e_mask_present": torch.ones(1, 16)}
    kept = torch.ones(1, 3, 4, 8, 8)
    kept[0, 2, 2:] = 0
    expected = ((a["q"] - masks["q"]).abs() * kept).sum() / kept.sum()
    expected = (expected + (a["e"] - masks["e"]).abs().mean()) / 2
    assert compute_loss(outputs, gaps, cfg)["L_A"] == pytest.approx(expected.item(), rel=1e-6)
    changed = {**outputs, "A_q": a["q"].clone()}
    changed["A_q"][0, 2, 2:] = 0.0  # attention where the frames have no mask does not count
    assert compute_loss(changed, gaps, cfg)["L_A"] == pytest.approx(expected.item(), rel=1e-6)

    none = {**batch, "q_mask_present": torch.zeros(1, 16), "e_mask_present": torch.zeros(1, 16)}
    assert compute_loss(outputs, none, cfg)["L_A"].item() == 0.0
    assert m.snippet_len == 8 and m.snippet_stride == 4
