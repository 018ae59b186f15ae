"""Temporal action parsing (TAP): the DETR-like temporal decoder T of Sec. 3.2.

Cross-attention -> multi-head self-attention -> cross-attention, with L_q learnable query embeddings:

    A_1 = softmax(Q_1 K_1^T / tau),  Q_1 = W_1^Q Q,  K_1 = W_1^K X^F,  V_1 = W_1^V X^F,  X_1^F = A_1 V_1
    X_2^F = MHSA(X_1^F)
    A_2 = softmax(Q_2 K_2^T / tau),  Q_2 = W_2^Q (X_2^F + Q),  K_2 = W_2^K X^F,  V_2 = W_2^V X^F
    X^T = A_2 V_2

The two cross-attentions are single-head (Table 10's best row). Our reading of the garbled
"X_2^F = sum_i (X_2^F + Q_2)": the second cross-attention's query is the self-attention output plus
the query embeddings, as DETR adds its query positions at every decoder layer. tau is one learnable
temperature shared by both cross-attentions, initialised to 0.07 x 256 and used as a divisor
(Sec. 4.3 gives it its own learning rate, 1e-4).
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalActionParsing(nn.Module):
    def __init__(self, in_dim: int, dim: int = 256, num_queries: int = 6, num_heads: int = 8,
                 tau_init: float = 0.07 * 256) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, dim))  # Q: L_q x C_q
        self.W1_Q, self.W1_K, self.W1_V = nn.Linear(dim, dim), nn.Linear(in_dim, dim), nn.Linear(in_dim, dim)
        self.mhsa = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.W2_Q, self.W2_K, self.W2_V = nn.Linear(dim, dim), nn.Linear(in_dim, dim), nn.Linear(in_dim, dim)
        self.tau = nn.Parameter(torch.tensor(float(tau_init)))

    def _cross(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attention = torch.softmax(q @ k.transpose(1, 2) / self.tau, dim=-1)  # B x L_q x N
        return attention @ v, attention

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: X^F, B x N x C_4 -> (X^T: B x L_q x C_q, A_1, A_2: B x N x L_q, each column sums to 1)."""
        query = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)
        x1, a1 = self._cross(self.W1_Q(query), self.W1_K(x), self.W1_V(x))
        x2, _ = self.mhsa(x1, x1, x1, need_weights=False)
        xt, a2 = self._cross(self.W2_Q(x2 + query), self.W2_K(x), self.W2_V(x))
        return xt, a1.transpose(1, 2), a2.transpose(1, 2)
