"""The athlete's colours as a fine RGB histogram, and the per-pixel odds that a colour is theirs.

GrabCut's own colour models are five-component Gaussian mixtures fitted anew in every frame;
on a crowd of every colour next to a thin athlete they blur the two apart. A histogram of
``BINS``^3 colour cells, learned from the athlete's accepted masks over the video and set against
the background right around the box in this frame, separates them much better; GrabCut then only
has to settle the pixels whose colour is ambiguous.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

BINS = 32  # cells per channel
RATE = 0.05  # weight of each accepted mask in the running model of the athlete
SMOOTH = 0.7  # Gaussian smoothing of the histogram, in cells: neighbouring shades share evidence


def cells(pixels: np.ndarray) -> np.ndarray:
    """Histogram cell of each RGB uint8 pixel (any leading shape)."""
    q = pixels.astype(np.int32) * BINS // 256
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def histogram(cell_index: np.ndarray) -> np.ndarray | None:
    """Smoothed, normalised histogram (flat, ``BINS``^3) of the given cells; None when empty."""
    if cell_index.size == 0:
        return None
    counts = np.bincount(cell_index.ravel(), minlength=BINS**3).astype(np.float32)
    smooth = gaussian_filter(counts.reshape(BINS, BINS, BINS), SMOOTH, mode="constant")
    return (smooth / smooth.sum()).ravel()


def of_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Histogram of the pixels of ``image`` (H x W x 3 RGB) under ``mask``."""
    return histogram(cells(image[mask]))


def blend(model: np.ndarray | None, update: np.ndarray | None, rate: float) -> np.ndarray | None:
    """Running average of histograms, so the model follows slow changes of light and pose."""
    if model is None or update is None:
        return update if model is None else model
    return (1.0 - rate) * model + rate * update


def posterior(cell_index: np.ndarray, foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """P(athlete | colour) per pixel with equal priors, lightly smoothed in space (JPEG chroma
    is coarser than the pixels, so single-pixel verdicts are noise)."""
    fg = foreground[cell_index]
    bg = background[cell_index]
    odds = fg / np.maximum(fg + bg, 1e-12)
    return cv2.GaussianBlur(odds.astype(np.float32), (3, 3), 0)
