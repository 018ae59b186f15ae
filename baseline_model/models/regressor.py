"""Fine-grained contrastive regression: E_S then E_R over paired query/exemplar step features (Eq. 7)."""

from __future__ import annotations

import torch
from torch import nn


class ContrastiveRegressor(nn.Module):
    """Per-step score differences Delta_m = E_R(E_S([X_Q^T ; X_Z^T])).

    E_S is a two-layer MLP with ReLU (the contrastive score encoder), E_R a three-layer MLP with
    ReLU whose last layer outputs one number per step (the contrastive score regressor).
    """

    def __init__(self, in_dim: int, encoder_dims: list[int], regressor_dims: list[int]) -> None:
        super().__init__()
        e1, e2 = encoder_dims
        r1, r2 = regressor_dims
        self.E_S = nn.Sequential(nn.Linear(2 * in_dim, e1), nn.ReLU(), nn.Linear(e1, e2), nn.ReLU())
        self.E_R = nn.Sequential(nn.Linear(e2, r1), nn.ReLU(), nn.Linear(r1, r2), nn.ReLU(), nn.Linear(r2, 1))

    def forward(self, query: torch.Tensor, exemplar: torch.Tensor) -> torch.Tensor:
        """query, exemplar: B x L x D step features -> B x L step deltas (query minus exemplar)."""
        return self.E_R(self.E_S(torch.cat([query, exemplar], -1))).squeeze(-1)
