"""Training losses L = L_A + L_T + L_E (Eq. 4, 6, 8, 9) and the targets they compare against."""

from __future__ import annotations

from typing import Any

import torch

from baseline_model.models.sap import mask_target
from baseline_model.models.snippets import cut_snippets, snippet_centres

__all__ = ["compute_loss", "covered_cells", "mask_target", "step_means", "temporal_soft_labels"]


def step_means(transitions: Any, num_frames: int, num_queries: int, anchor: str = "middle") -> torch.Tensor:
    """Where each of the L_q steps sits in the clip (frame index) - the means of the soft labels.

    ``transitions`` are the step transitions of one clip (frame indices, the last frame of the
    preceding step as in FineDiving; negative entries are padding). K transitions split the clip
    into K + 1 steps; each step is cut into equal sub-steps so that there are L_q in all
    (L_q // (K + 1) per step, the remainder going to the earliest steps), and sub-step m's mean is its
    central frame (``anchor`` left / right: its first / last frame, Table 11). With L_q < K + 1, or no
    transitions (MTL-AQA, AQA-7), the clip is cut into L_q equal parts.
    """
    t = torch.as_tensor(transitions, dtype=torch.float64).flatten()
    t = torch.sort(t[t >= 0].clamp(max=num_frames - 1)).values
    bounds = [0.0, *(t + 1).tolist(), float(num_frames)]
    steps = len(bounds) - 1
    if num_queries < steps:
        bounds, steps = [0.0, float(num_frames)], 1
    counts = [num_queries // steps + (j < num_queries % steps) for j in range(steps)]
    offset = {"left": 0.0, "middle": 0.5, "right": 1.0}[anchor]
    means = []
    for (start, end), n in zip(zip(bounds[:-1], bounds[1:]), counts):
        part = (end - start) / n
        # sub-step k spans frames [start + k part, start + (k+1) part); its first frame is at the
        # left edge, its last one frame before the right edge
        means += [start + (k + offset) * part - offset for k in range(n)]
    return torch.tensor(means, dtype=torch.float64)


def temporal_soft_labels(transitions: torch.Tensor, num_frames: int, num_snippets: int, snippet_len: int,
                         stride: int, num_queries: int, sigma: float = 1.3,
                         anchor: str = "middle") -> torch.Tensor:
    """Temporal soft labels T (Sec. 3.2): B x N x L_q, each column a distribution over the N snippets.

    Our reading of Sec. 3.2: the step transitions are converted to snippet units (frame / alpha), the
    clip is divided into L_q steps (:func:`step_means`), and step m's column is a Gaussian with
    standard deviation ``sigma`` snippets (1.3) centred on that step's central frame, evaluated at
    the central frame of each snippet (snippet i covers frames i*alpha .. i*alpha + beta - 1) and
    normalised over snippets, so it is comparable with A_1 / A_2 whose columns are softmaxes over
    snippets. ``transitions``: B x K frame indices within the clip, -1 padded.
    """
    transitions = torch.as_tensor(transitions)
    if transitions.dim() == 1:
        transitions = transitions.unsqueeze(1)
    means = torch.stack([step_means(row, num_frames, num_queries, anchor) for row in transitions])
    centres = snippet_centres(num_snippets, snippet_len, stride)
    z = (centres.view(1, -1, 1) - means.unsqueeze(1)) / (stride * sigma)  # B x N x L_q, in snippets
    labels = torch.exp(-0.5 * z**2)
    return (labels / labels.sum(1, keepdim=True).clamp_min(1e-30)).float()


def compute_loss(outputs: dict[str, torch.Tensor], batch: dict[str, Any],
                 cfg: Any) -> dict[str, torch.Tensor]:
    """{"L_A", "L_T", "L_E", "total"} for one batch of pairs; ``cfg`` is the full Config.

    L_E (Eq. 9): squared error of the predicted query score y_Z + delta, i.e. of delta against
    y_X - y_Z (with ``data.exemplar_mode: dd``, against y_X / DD_X - y_Z / DD_Z). L_A (Eq. 4): mean
    absolute difference between A and M_gt, over query and exemplar, leaving out the cells of A whose
    frames include one without a mask (``<side>_mask_present`` in the batch, from a store with gaps);
    zero when SAP is off, no masks were given or ``model.loss_attention`` is off. L_T (Eq. 6):
    KL(T || A_1) + KL(T || A_2) summed over snippets and averaged over steps, pairs and the two
    videos; zero when TAP or ``model.loss_temporal`` is off.
    """
    model_cfg, data_cfg = cfg.model, cfg.data
    delta = outputs["delta"]
    zero = delta.new_zeros(())
    q_score, e_score = (torch.as_tensor(batch[k], dtype=delta.dtype, device=delta.device)
                        for k in ("q_score", "e_score"))
    if data_cfg.exemplar_mode == "dd":
        q_score = q_score / torch.as_tensor(batch["q_difficulty"], dtype=delta.dtype, device=delta.device)
        e_score = e_score / torch.as_tensor(batch["e_difficulty"], dtype=delta.dtype, device=delta.device)
    loss_e = ((delta - (q_score - e_score)) ** 2).mean()

    attention_terms = [term for s in ("q", "e") if f"A_{s}" in outputs and f"M_{s}" in outputs
                       for term in [_attention_term(outputs[f"A_{s}"], outputs[f"M_{s}"],
                                                    batch.get(f"{s}_mask_present"), model_cfg)]
                       if term is not None]
    loss_a = torch.stack(attention_terms).mean() if model_cfg.loss_attention and attention_terms else zero

    loss_t = zero
    if model_cfg.loss_temporal and "A1_q" in outputs:
        terms = []
        for side in ("q", "e"):
            labels = temporal_soft_labels(
                batch[f"{side}_transitions"], model_cfg.num_frames, model_cfg.num_snippets,
                model_cfg.snippet_len, model_cfg.snippet_stride, model_cfg.num_queries,
                model_cfg.soft_label_sigma, model_cfg.soft_label_anchor).to(delta.device, delta.dtype)
            for name in ("A1", "A2"):
                terms.append(_kl(labels, outputs[f"{name}_{side}"]))
        loss_t = (terms[0] + terms[1] + terms[2] + terms[3]) / 2
    return {"L_A": loss_a, "L_T": loss_t, "L_E": loss_e, "total": loss_a + loss_t + loss_e}


def covered_cells(present: torch.Tensor, model_cfg: Any, time_cells: int) -> torch.Tensor:
    """B x N x t x 1 x 1 booleans: the cells of A whose frames all have a mask (``present``: B x T)."""
    present = torch.as_tensor(present, dtype=torch.float32)
    frames = cut_snippets(present[:, None, :, None, None], model_cfg.num_snippets, model_cfg.snippet_len,
                          model_cfg.snippet_stride).squeeze(2)  # B x N x L x 1 x 1
    return mask_target(frames, (time_cells, 1, 1)) > 1 - 1e-6  # share of a cell's frames with a mask


def _attention_term(attention: torch.Tensor, target: torch.Tensor, present: torch.Tensor | None,
                    model_cfg: Any) -> torch.Tensor | None:
    """Mean |A - M_gt| over the cells whose frames all have masks (None: no such cell)."""
    error = (attention - target).abs()
    if present is None:
        return error.mean()
    weight = covered_cells(present, model_cfg, attention.shape[-3]).to(error.dtype).expand_as(error)
    total = weight.sum()
    return (error * weight).sum() / total if total > 0 else None


def _kl(target: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """KL(target || attention) over snippets (dim 1), averaged over batch and steps."""
    log_ratio = torch.log(target.clamp_min(1e-12)) - torch.log(attention.clamp_min(1e-12))
    return (target * log_ratio).sum(1).mean()
