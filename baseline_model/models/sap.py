"""Spatial action parsing (SAP): the mask-guided action attention embedded in the I3D (Eq. 2, 5)."""

from __future__ import annotations

import torch
from torch import nn


class SpatialActionParsing(nn.Module):
    """A = sigmoid(f_A(A_mea, A_max)), features re-weighted by (A + 1).

    A_mea / A_max are the mean / max over channels at every (t, h, w); f_A is a 1x1 convolution
    mixing the two maps (Sec. 4.3), so the whole module has three parameters. ``plus_one=False`` is
    the "A" row of Table 10 (features x A).
    """

    def __init__(self, plus_one: bool = True) -> None:
        super().__init__()
        self.f_A = nn.Conv3d(2, 1, kernel_size=1)
        self.plus_one = plus_one

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features: B x C x t x h x w -> (enhanced features, A: B x t x h x w in [0, 1])."""
        pooled = torch.stack([features.mean(1), features.amax(1)], 1)
        attention = torch.sigmoid(self.f_A(pooled))
        weight = attention + 1 if self.plus_one else attention
        return features * weight, attention.squeeze(1)


def mask_target(mask: torch.Tensor, size: tuple[int, int, int] | torch.Size) -> torch.Tensor:
    """M_gt of Eq. 3: the human-centric mask brought to the size (t, h, w) of the attention map A.

    ``mask``: ... x L x H x W foreground in [0, 1] (any leading dims, e.g. B x N x 1 snippets).
    Eq. 3 adds frames 2t-1 and 2t and average-pools the result to W_2 x H_2. A sum of two binary
    masks lies in [0, 2] while A = sigmoid(.) lies in [0, 1], so we read the sum as the pair's mean
    (sum / 2): M_gt is then the fraction of the two frames' pixels under each cell of A that are
    foreground, in [0, 1]. That is one adaptive average pool over (time, height, width); with
    t = L / 2 (stage 2: 8 frames -> 4) it is exactly the pairwise mean. For stage 1 and 3 (Table 9)
    the same pool groups L / t frames instead of two.
    """
    lead, (length, h, w) = mask.shape[:-3], mask.shape[-3:]
    pooled = torch.nn.functional.adaptive_avg_pool3d(mask.reshape(-1, 1, length, h, w).float(), tuple(size))
    return pooled.reshape(*lead, *pooled.shape[-3:])
