"""Parameter counts per component, to compare with the paper's 35.94M."""

from __future__ import annotations

from torch import nn


def parameter_summary(model: nn.Module) -> dict[str, int]:
    """{component: parameters} for each top-level child, plus ``total_params`` and ``trainable_params``.

    For UniFineParser the components are i3d, sap, sve, tap and regressor (absent when switched off).
    """
    summary = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    summary["total_params"] = sum(p.numel() for p in model.parameters())
    summary["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return summary
