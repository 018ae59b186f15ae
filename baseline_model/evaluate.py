"""Test-split evaluation: multi-exemplar voting (Eq. 10) and the AQA, step and attention metrics.

Every query and every exemplar it votes with is encoded once (the I3D + SVE + TAP pass,
``model.encode``); the M (query, exemplar) pairs then only run the contrastive regressor. In eval
mode that gives the same numbers as M full forward passes per query (as ``vote`` checks) at a
fraction of the cost, because the same training exemplars serve many queries.

Metrics: Spearman rho and relative L2 (x100) of the voted scores; tIoU of the step transitions
read off TAP's A_2 against the annotated ones (clips with at least two transitions); IoU of SAP's
attention map A against the mask target M_gt (when the run has masks), averaged over queries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from baseline_model.amp import autocast
from baseline_model.data import PairDataset
from baseline_model.losses import covered_cells
from baseline_model.metrics import (
    attention_iou,
    relative_l2,
    spearman,
    tiou_transitions,
    transitions_from_attention,
)
from baseline_model.models.sap import mask_target
from baseline_model.models.snippets import cut_snippets


@dataclass
class Evaluation:
    """Metrics of one evaluation, plus the per-query voted predictions behind them."""

    rho: float
    rl2: float
    tiou: float
    attention_iou: float
    ids: list[str] = field(default_factory=list)
    true: list[float] = field(default_factory=list)
    pred: list[float] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The scalar metrics (NaN when not measurable: no transitions, no masks, constant scores)."""
        return {"rho": self.rho, "rl2": self.rl2, "tiou": self.tiou, "attention_iou": self.attention_iou}


class _Videos(torch.utils.data.Dataset):
    """The test-time view of a list of videos, for encoding each once."""

    def __init__(self, pairs: PairDataset, videos: list[Any]) -> None:
        self.pairs, self.videos = pairs, videos

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.pairs.sample_video(self.videos[index], "v")


@torch.no_grad()
def evaluate(model: torch.nn.Module, test_set: PairDataset, cfg: Any, *, device: torch.device | str = "cpu",
             amp: torch.dtype | None = None, num_workers: int = 0, progress: bool = True) -> Evaluation:
    """Vote every test query over its exemplars and score the predictions.

    ``model`` is the bare UniFineParser (not a DDP wrapper); it is put in eval mode and left there.
    ``amp``: the autocast dtype (:func:`baseline_model.amp.amp_dtype`), None for float32.
    """
    from tqdm import tqdm

    device = torch.device(device)
    model.eval()
    m = cfg.model
    exemplars = sorted({e for _, e in test_set.pairs})
    videos = [*test_set.queries, *(test_set.pool[j] for j in exemplars)]
    is_query = [True] * len(test_set.queries) + [False] * len(exemplars)
    loader = torch.utils.data.DataLoader(_Videos(test_set, videos), batch_size=cfg.train.eval_batch_size,
                                         num_workers=num_workers, pin_memory=device.type == "cuda")
    features: dict[tuple[bool, str], torch.Tensor] = {}
    ious: list[float] = []
    tious: list[np.ndarray] = []
    position = 0
    for batch in tqdm(loader, desc="evaluate", unit="batch", leave=False, disable=None if progress else True):
        video = batch["v_video"].to(device, non_blocking=True)
        with autocast(device, amp):
            enc = model.encode(video)
        flags = is_query[position:position + len(video)]
        position += len(video)
        for k, (vid, q) in enumerate(zip(batch["v_id"], flags)):
            features[(q, vid)] = enc["X"][k].float().cpu()
        rows = [k for k, q in enumerate(flags) if q]
        if not rows:
            continue
        if "A2" in enc:
            tious.extend(_step_tiou(enc["A2"][rows].float().cpu(), batch["v_transitions"][rows], m))
        if "A" in enc and "v_mask" in batch:
            snippets = cut_snippets(batch["v_mask"][rows], m.num_snippets, m.snippet_len, m.snippet_stride)
            target = mask_target(snippets.squeeze(2), enc["A"].shape[-3:])
            covered = covered_cells(batch["v_mask_present"][rows], m, enc["A"].shape[-3])
            for a, t, keep in zip(enc["A"][rows].float().cpu(), target, covered):
                if keep.any():  # cells over frames without a mask count in neither map
                    ious.append(attention_iou((a * keep).numpy(), (t * keep).numpy()))
    ids, true, pred = _vote(model, test_set, features, device, cfg.data.exemplar_mode == "dd")
    return Evaluation(rho=_rho(pred, true), rl2=_rl2(pred, true),
                      tiou=float(np.mean(np.concatenate(tious))) if tious else math.nan,
                      attention_iou=float(np.mean(ious)) if ious else math.nan, ids=ids, true=true, pred=pred)


def _step_tiou(a2: torch.Tensor, transitions: torch.Tensor, m: Any) -> list[np.ndarray]:
    """tIoU of transitions read off A_2 for the clips whose transitions are all annotated (K >= 2)."""
    valid = (transitions >= 0).all(1)
    if transitions.shape[1] < 2 or not bool(valid.any()):
        return []
    predicted = transitions_from_attention(a2[valid].numpy(), transitions.shape[1], m.snippet_len,
                                           m.snippet_stride)
    return [tiou_transitions(predicted, transitions[valid].numpy())]


def _vote(model: torch.nn.Module, test_set: PairDataset, features: dict[tuple[bool, str], torch.Tensor],
          device: torch.device, dd: bool) -> tuple[list[str], list[float], list[float]]:
    """Eq. 10 per query from the cached step features; DD: y = DD_X * mean_j(y_Zj / DD_Zj + F(X, Z_j))."""
    by_query: dict[int, list[int]] = {}
    for q, e in test_set.pairs:
        by_query.setdefault(q, []).append(e)
    ids, true, pred = [], [], []
    for q, exemplars in sorted(by_query.items()):
        query = test_set.queries[q]
        xq = features[(True, query.id)].unsqueeze(0).expand(len(exemplars), -1, -1).to(device)
        xe = torch.stack([features[(False, test_set.pool[e].id)] for e in exemplars]).to(device)
        deltas = model.regress({"X": xq}, {"X": xe}).mean(1).float().cpu().numpy()
        scores = np.array([float(test_set.pool[e].metadata["score"]) for e in exemplars])
        if dd:
            e_dd = np.array([float(test_set.pool[e].metadata["difficulty"]) for e in exemplars])
            voted = float(query.metadata["difficulty"]) * float(np.mean(scores / e_dd + deltas))
        else:
            voted = float(np.mean(scores + deltas))
        ids.append(query.id)
        true.append(float(query.metadata["score"]))
        pred.append(voted)
    return ids, true, pred


def _rho(pred: list[float], true: list[float]) -> float:
    """Spearman rho, NaN where undefined (fewer than two queries, constant scores or predictions)."""
    defined = len(pred) >= 2 and np.ptp(pred) > 0 and np.ptp(true) > 0
    return spearman(pred, true) if defined else math.nan


def _rl2(pred: list[float], true: list[float]) -> float:
    """Relative L2 x 100, NaN when the true scores do not spread (the metric divides by their range)."""
    return relative_l2(pred, true) if len(true) >= 2 and np.ptp(true) > 0 else math.nan
