"""A tiny random-weight Segment Anything, built from segment_anything's own modeling classes and
saved as a real checkpoint, so the SAM code path runs in tests without the 375 MB weights."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TINY_CONFIG = {
    "image_size": 64,
    "patch_size": 16,
    "encoder_embed_dim": 32,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": [1],
    "window_size": 2,
    "prompt_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_mlp_dim": 64,
    "decoder_num_heads": 2,
    "iou_head_hidden_dim": 32,
}


def save_tiny_sam(path: Path, seed: int = 0) -> Path:
    """Write the state dict of a tiny SAM (random weights, fixed seed) to ``path``."""
    import torch

    from hm_annotate.pseudo.segmenters.sam import build_custom_sam

    torch.manual_seed(seed)
    torch.save(build_custom_sam(TINY_CONFIG).state_dict(), path)
    return path


def tiny_pipeline_yaml(path: Path, checkpoint: Path) -> Path:
    """A pipeline file that runs the tiny SAM (model_config) with mask-flow tracking."""
    import yaml

    doc = {
        "name": "tiny-sam",
        "dataset": {"format": "videos"},
        "segmenter": {
            "name": "sam",
            "params": {"model": "tiny", "checkpoint": str(checkpoint), "model_config": TINY_CONFIG},
        },
        "tracker": {"name": "mask-flow"},
        "batch_size": 3,
        "device": "cpu",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the tiny SAM on one torch thread: on busy shared cores torch's thread pool spends far
    longer waiting for a second core than the tiny model needs to compute."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
