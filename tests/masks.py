"""Masks made in the tests: moving ellipses, written as LayerData or stores."""

from __future__ import annotations

import numpy as np

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore


def ellipse_masks(n: int, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """N x H x W uint8 masks of an ellipse drifting across the frame (vectorised)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    t = np.arange(n)[:, None, None]
    cy = h * 0.5 + h * 0.2 * np.sin(t / 5.0 + rng.uniform(0, 3))
    cx = w * 0.2 + (w * 0.6) * (t / max(n - 1, 1))
    ry, rx = h * 0.25, w * 0.12
    return (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0).astype(np.uint8)


def layer_from_masks(masks: np.ndarray, first_frame: int = 0, **kwargs) -> LayerData:
    """One object per frame, frames numbered from ``first_frame``."""
    rles = rle.encode_batch(masks)
    return LayerData(
        frames=np.arange(first_frame, first_frame + len(masks)),
        masks=[[r] for r in rles],
        height=masks.shape[1],
        width=masks.shape[2],
        **kwargs,
    )


def make_store(path, videos: dict[str, int], layer: str = "pseudo", h: int = 48, w: int = 64) -> None:
    """A store with the given video ids and frame counts, ellipse masks, simple metadata."""
    with MaskStore.open(path, mode="a") as st:
        for k, (vid, n) in enumerate(videos.items()):
            meta = {"action_type": ["107b", "207c"][k % 2], "split": "train", "score": 50.0 + k}
            data = layer_from_masks(ellipse_masks(n, h, w, seed=k), first_frame=100)
            st.put(vid, layer, data, metadata=meta)
