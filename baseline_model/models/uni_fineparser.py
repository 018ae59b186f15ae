"""Uni-FineParser (TPAMI 2025, Sec. 3): SAP inside the I3D, SVE, TAP and fine-grained contrastive regression.

A video of T frames is cut into N snippets; each snippet runs through I3D stages B1..B4 with the
mask-guided attention of SAP after stage ``sap_stage``; B4 features are averaged over (t, h, w) to
C_4 and the SVE features of the snippet's two central frames are added (X^F, N x C_4); TAP turns X^F
into L_q step features X^T; query and exemplar X^T are concatenated along channels and E_S, E_R give
one score difference per step; their mean is the predicted query - exemplar difference (Eq. 7).

Under autocast (mixed precision) only the I3D, SAP and SVE run in half precision: TAP (attention
logits divided by a learned temperature, softmaxes whose small entries feed the KL loss) and the
regressor (score differences up to ~100, squared in L_E) run in float32. They cost well under 1% of
the FLOPs.

``model.i3d_freeze_bn`` keeps the I3D's BatchNorm layers in eval mode while the rest trains: the
statistics stay those of the pretrained checkpoint, as in the reference code (the affine weights
still learn).

Ablations (Tables 6, 7, 9, 10): ``sap``/``sve``/``tap`` switch a component off. Without TAP there are
no queries: the regressor compares the N snippet features pairwise and ``step_deltas`` has N entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch
from torch import nn

from baseline_model.config import ModelConfig
from baseline_model.models.i3d import STAGE_ENDS, InceptionI3d
from baseline_model.models.regressor import ContrastiveRegressor
from baseline_model.models.sap import SpatialActionParsing, mask_target
from baseline_model.models.snippets import cut_snippets
from baseline_model.models.sve import StaticVisualEncoder
from baseline_model.models.tap import TemporalActionParsing


class UniFineParser(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # channels-last 3D convolutions measured ~20% faster per training step on CPU
        self.i3d = InceptionI3d(cfg.i3d_width, bn_momentum=cfg.i3d_bn_momentum).to(
            memory_format=torch.channels_last_3d
        )
        c4 = self.i3d.out_channels
        self.sap = SpatialActionParsing(cfg.sap_plus_one) if cfg.sap else None
        self.sve = (
            StaticVisualEncoder(cfg.sve_layers, cfg.sve_width, c4, cfg.input_normalisation)
            if cfg.sve
            else None
        )
        self.tap = (
            TemporalActionParsing(c4, cfg.query_dim, cfg.num_queries, cfg.num_heads, cfg.tau_init)
            if cfg.tap
            else None
        )
        step_dim = cfg.query_dim if cfg.tap else c4
        self.regressor = ContrastiveRegressor(step_dim, cfg.encoder_dims, cfg.regressor_dims)

    def train(self, mode: bool = True) -> UniFineParser:
        """Training mode, with the I3D's BatchNorm left in eval mode under ``i3d_freeze_bn``."""
        super().train(mode)
        if mode and self.cfg.i3d_freeze_bn:
            for module in self.i3d.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def encode(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        """B x 3 x T x H x W -> {"X": steps B x L x D, "A": B x N x t x h x w, "A1", "A2": B x N x L_q}."""
        cfg = self.cfg
        b = video.shape[0]
        snippets = cut_snippets(video, cfg.num_snippets, cfg.snippet_len, cfg.snippet_stride).flatten(0, 1)
        out: dict[str, torch.Tensor] = {}
        x = snippets.contiguous(memory_format=torch.channels_last_3d)
        for k in STAGE_ENDS:
            x = self.i3d.stage(x, k)
            if self.sap is not None and k == cfg.sap_stage:
                x, attention = self.sap(x)
                out["A"] = attention.unflatten(0, (b, cfg.num_snippets))
        features = x.mean((2, 3, 4))  # B4^A(X_i): (B N) x C_4
        if self.sve is not None:
            features = features + self.sve(snippets)  # X^F = B4^A(X_i) + X_i^V
        features = features.unflatten(0, (b, cfg.num_snippets)).float()
        with _float32(features):
            if self.tap is not None:
                features, out["A1"], out["A2"] = self.tap(features)
        out["X"] = features
        return out

    def regress(self, query: dict[str, torch.Tensor], exemplar: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-step deltas (B x L) between two encoded batches."""
        with _float32(query["X"]):
            return self.regressor(query["X"].float(), exemplar["X"].float())

    def forward(
        self,
        q_video: torch.Tensor,
        e_video: torch.Tensor,
        q_mask: torch.Tensor | None = None,
        e_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Score difference of each (query, exemplar) pair plus everything the losses need.

        Videos: B x 3 x T x H x W, normalised; masks: B x 1 x T x H x W in [0, 1] or None. Returns
        "delta" (B,), "step_deltas" (B x L_q), and when the component is on: "A_q", "A_e" (SAP
        attention, B x N x t x h x w), "M_q", "M_e" (their mask targets, Eq. 3, for the videos given a
        mask), "A1_q", "A2_q", "A1_e", "A2_e" (TAP attention, B x N x L_q).
        """
        b = q_video.shape[0]
        both = self.encode(torch.cat([q_video, e_video]))
        halves = {name: value.split(b) for name, value in both.items()}
        steps = self.regress({"X": halves["X"][0]}, {"X": halves["X"][1]})
        out = {"delta": steps.mean(1), "step_deltas": steps}
        for name in ("A", "A1", "A2"):
            if name in halves:
                out[f"{name}_q"], out[f"{name}_e"] = halves[name]
        if self.sap is not None:
            for side, mask in (("q", q_mask), ("e", e_mask)):
                if mask is not None:
                    snippets = cut_snippets(
                        mask, self.cfg.num_snippets, self.cfg.snippet_len, self.cfg.snippet_stride
                    ).squeeze(2)
                    out[f"M_{side}"] = mask_target(snippets, out[f"A_{side}"].shape[-3:])
        return out

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by learning-rate group (Sec. 4.3): i3d, sve, tau, and head (everything else)."""
        groups: dict[str, list[nn.Parameter]] = {"i3d": [], "sve": [], "tau": [], "head": []}
        for name, param in self.named_parameters():
            key = name.split(".")[0] if name.split(".")[0] in ("i3d", "sve") else "head"
            groups["tau" if name == "tap.tau" else key].append(param)
        return groups


def _float32(x: torch.Tensor):
    """Autocast off for the block (inputs must be float32 already), where it is on."""
    kind = x.device.type
    on = torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind)  # not on "meta"
    return torch.autocast(kind, enabled=False) if on else nullcontext()


def build_model(cfg: ModelConfig) -> UniFineParser:
    """The model, with pretrained I3D / ResNet34 weights loaded when the config names them.

    The I3D checkpoint format fixes the input normalisation; a config whose ``data.normalisation``
    disagrees with it raises BackboneWeightsError rather than feeding the backbone inputs it never saw.
    """
    from baseline_model.weights import BackboneWeightsError, load_i3d_weights, load_resnet34_weights

    model = UniFineParser(cfg)
    if cfg.i3d_weights:
        expected = load_i3d_weights(model, cfg.i3d_weights)
        if expected != cfg.input_normalisation:
            raise BackboneWeightsError(
                f"{cfg.i3d_weights}: these I3D weights expect data.normalisation "
                f"{expected!r}, the config says {cfg.input_normalisation!r}"
            )
    if cfg.sve_weights and model.sve is not None:
        load_resnet34_weights(model, cfg.sve_weights)
    return model


@torch.no_grad()
def vote(
    model: UniFineParser,
    q_video: torch.Tensor,
    q_mask: torch.Tensor | None,
    exemplar_videos: torch.Tensor | Sequence[torch.Tensor],
    exemplar_masks: torch.Tensor | Sequence[torch.Tensor | None] | None,
    exemplar_scores: torch.Tensor,
    dd: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Multi-exemplar voting (Eq. 10): y_X = mean_j (F(X, Z_j) + y_Zj); returns B predicted scores.

    ``exemplar_videos``: B x M x 3 x T x H x W, or M tensors of B x 3 x T x H x W; ``exemplar_scores``:
    B x M. The query is encoded once and compared with each exemplar in turn, which gives the same
    numbers as M forward passes in eval mode (put the model in eval mode first). Masks only feed the
    training losses, never the prediction, so ``q_mask`` and ``exemplar_masks`` may be None.

    ``dd=(q_difficulty (B,), exemplar_difficulty (B x M))`` is the DD setting of Table 12: the model
    regresses raw scores (score / difficulty), exemplars vote y_Zj / DD_j + F(X, Z_j), and the mean
    raw score is multiplied by the query's difficulty.
    """
    del q_mask, exemplar_masks  # part of the pair interface; the prediction does not read masks
    exemplars = exemplar_videos.unbind(1) if isinstance(exemplar_videos, torch.Tensor) else exemplar_videos
    scores = exemplar_scores.to(q_video.dtype)
    if len(exemplars) != scores.shape[1]:
        raise ValueError(f"{len(exemplars)} exemplar videos but {scores.shape[1]} exemplar scores")
    query = model.encode(q_video)
    deltas = torch.stack([model.regress(query, model.encode(e)).mean(1) for e in exemplars], 1)
    if dd is None:
        return (scores + deltas).mean(1)
    q_difficulty, e_difficulty = dd
    return q_difficulty * (scores / e_difficulty + deltas).mean(1)
