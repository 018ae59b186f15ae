"""The stand-in masks every FineDiving-HM-scale benchmark writes: 256 x 456 frames, as FineDiving's."""

from __future__ import annotations

import numpy as np

H, W = 256, 456


def diver_masks(seed: int, n: int, shift: float = 0.0) -> np.ndarray:
    """n x H x W masks of an ellipse falling along a parabola and changing shape (a stand-in diver)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    t = np.arange(n, dtype=np.float32)[:, None, None]
    cx = rng.uniform(120, 320) + t * rng.uniform(0.3, 1.2) + shift
    cy = rng.uniform(50, 90) + 0.015 * (t - n / 3) ** 2
    ry = 26 + 10 * np.sin(t / 7)
    rx = 11 + 5 * np.cos(t / 5)
    return (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).astype(np.uint8)
