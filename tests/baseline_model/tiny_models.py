"""Tiny Uni-FineParser configs and random pair batches for the model, loss and weight tests."""

from __future__ import annotations

import pytest
import torch

from baseline_model.config import Config, DataConfig, ModelConfig


@pytest.fixture(autouse=True)
def one_thread():
    """Run torch single-threaded: these models are tiny and the machine's 2 cores are shared, where two
    OpenMP threads spend most of each small op waiting for each other (measured 10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**model: object) -> Config:
    """Every component present, 16-frame 32x32 clips in 3 snippets, widths at 1/16 (C_4 = 64)."""
    data = DataConfig(num_frames=16, num_snippets=3, snippet_len=8, snippet_stride=4, image_size=32,
                      resize=[40, 32])
    settings = dict(i3d_width=0.0625, sve_layers=[1, 1, 1, 1], sve_width=0.0625, num_queries=3, query_dim=16,
                    num_heads=2, tau_init=0.07 * 16, encoder_dims=[16, 16], regressor_dims=[16, 8])
    settings.update(model)
    return Config(model=ModelConfig(**settings), data=data)


def pair_batch(cfg: Config, batch: int, seed: int = 0, masks: bool = True) -> dict[str, torch.Tensor]:
    """Videos whose brightness follows their random score, box masks, and step transitions."""
    g = torch.Generator().manual_seed(seed)
    d = cfg.data
    shape = (batch, 3, d.num_frames, d.image_size, d.image_size)
    out = {"q_difficulty": torch.full((batch,), 3.0), "e_difficulty": torch.full((batch,), 2.0),
           "q_transitions": torch.tensor([[4, 10]] * batch), "e_transitions": torch.tensor([[5, -1]] * batch)}
    for side in ("q", "e"):
        score = torch.rand(batch, generator=g) * 90 + 10
        brightness = (score / 50 - 1).view(batch, 1, 1, 1, 1)  # a cue the model can learn the score from
        out[f"{side}_score"] = score
        out[f"{side}_video"] = (brightness + 0.2 * torch.randn(shape, generator=g)).clamp(-1, 1)
    if masks:
        for side in ("q", "e"):
            m = torch.zeros(batch, 1, *shape[2:])
            m[..., 8:24, 10:20] = 1.0
            out[f"{side}_mask"] = m
    return out
