"""AQA metrics as the reference code computes them, plus the step and attention localisation scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from baseline_model.models.snippets import snippet_centres


def spearman(pred: Any, true: Any) -> float:
    """Spearman's rank correlation rho (Eq. 11), via scipy.stats.spearmanr like the reference code."""
    from scipy import stats

    return float(stats.spearmanr(np.asarray(pred, dtype=float), np.asarray(true, dtype=float))[0])


def relative_l2(pred: Any, true: Any) -> float:
    """Relative L2 distance x 100: mean of ((pred - true) / (max(true) - min(true)))**2, times 100.

    Eq. 12 prints an absolute value, but the released code (and every table it is compared with)
    squares the relative error; we follow the code.
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    span = true.max() - true.min()
    if span <= 0:
        raise ValueError("relative L2 needs ground-truth scores that are not all equal")
    return float(np.mean(((pred - true) / span) ** 2) * 100)


def tiou_transitions(pred: Any, true: Any) -> np.ndarray:
    """Per-clip temporal IoU of the segment between the first and last step transition (FineDiving).

    ``pred``, ``true``: B x K transition frames (K >= 2; -1 padding is not allowed here).
    """
    pred, true = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    p0, p1, t0, t1 = pred[:, 0], pred[:, -1], true[:, 0], true[:, -1]
    inter = np.clip(np.minimum(p1, t1) - np.maximum(p0, t0), 0, None)
    union = (p1 - p0) + (t1 - t0) - inter
    return inter / np.maximum(union, np.finfo(float).eps)


def aiou(pred: Any, true: Any, thresholds: tuple[float, ...] = (0.5, 0.75)) -> dict[float, float]:
    """Share of clips whose transition tIoU reaches each threshold (AIoU@0.5, AIoU@0.75)."""
    tiou = tiou_transitions(pred, true)
    return {thr: float(np.mean(tiou >= thr)) for thr in thresholds}


def transitions_from_attention(attention: Any, num_transitions: int, snippet_len: int,
                               stride: int) -> np.ndarray:
    """Step transitions read off TAP's attention A_2 (B x N x L_q): B x K frame indices.

    Inverts the soft-label layout of ``losses.step_means``: each query's position is its
    attention-weighted mean snippet centre; queries are grouped into K + 1 steps (L_q // (K + 1)
    per step, remainder to the earliest); a step with two or more queries has equal sub-steps, so
    the spacing of its queries gives their width and hence where the step ends (or starts). A
    boundary is the mean of the estimates from its two sides (the midpoint of the two queries when
    neither side has two), and the transition is the frame before it.
    """
    attention = np.asarray(attention, dtype=float)
    _, n, lq = attention.shape
    steps = num_transitions + 1
    if lq < steps:
        raise ValueError(f"{lq} queries cannot place {num_transitions} transitions")
    centres = snippet_centres(n, snippet_len, stride).numpy()
    pos = np.einsum("bnq,n->bq", attention / attention.sum(1, keepdims=True), centres)
    counts = [lq // steps + (j < lq % steps) for j in range(steps)]
    firsts = np.cumsum([0, *counts])
    bounds = []
    for j in range(num_transitions):
        a, b = firsts[j + 1] - 1, firsts[j + 1]  # last query of step j, first of step j + 1
        estimates = []
        if counts[j] >= 2:
            estimates.append(pos[:, a] + (pos[:, a] - pos[:, a - 1]) / 2 + 0.5)
        if counts[j + 1] >= 2:
            estimates.append(pos[:, b] - (pos[:, b + 1] - pos[:, b]) / 2 + 0.5)
        bounds.append(np.mean(estimates, 0) if estimates else (pos[:, a] + pos[:, b]) / 2 + 0.5)
    return np.round(np.stack(bounds, 1)).astype(np.int64) - 1


def attention_iou(A: Any, target: Any, threshold: float = 0.5) -> float:
    """IoU of the attention map and the mask target, both thresholded at ``threshold`` (all cells pooled).

    Two empty maps agree perfectly (1.0), as in hm_annotate.rle.iou.
    """
    a = np.asarray(A) >= threshold
    m = np.asarray(target) >= threshold
    union = np.logical_or(a, m).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, m).sum() / union)
