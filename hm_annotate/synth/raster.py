"""Supersampled polygon layers: crisp, anti-aliased shapes whose coverage is known exactly.

A layer is drawn at ``SUPERSAMPLE`` times the frame resolution inside the bounding box of its
shapes and averaged down, giving premultiplied colour and a coverage (alpha) per pixel. The
renderer composites layers with that alpha and derives the ground-truth masks from the same
alpha (visible coverage >= 0.5), so image and mask agree at every edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

SUPERSAMPLE = 2
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = float(1 << _SHIFT)


@dataclass
class Layer:
    """Premultiplied RGB (h, w, 3) and alpha (h, w), float32, placed at (x0, y0) in the frame."""

    x0: int
    y0: int
    color: np.ndarray
    alpha: np.ndarray

    @property
    def empty(self) -> bool:
        return self.alpha.size == 0


@dataclass(frozen=True)
class Shape:
    """A filled polygon (N x 2 pixel coordinates; pixel j spans [j, j + 1)) or a disc
    (``radius`` > 0 at ``points[0]``) in an RGB colour; ``outline`` draws a darker rim (the edge
    shading of a body part)."""

    points: np.ndarray
    color: tuple[float, float, float]
    radius: float = 0.0
    outline: bool = False


def _bounds(shapes: Sequence[Shape], width: int, height: int, pad: int) -> tuple[int, int, int, int]:
    pts = np.concatenate([s.points for s in shapes])
    reach = max(s.radius for s in shapes)
    lo, hi = pts.min(0) - reach, pts.max(0) + reach
    x0 = int(np.clip(np.floor(lo[0]) - pad, 0, width))
    y0 = int(np.clip(np.floor(lo[1]) - pad, 0, height))
    x1 = int(np.clip(np.ceil(hi[0]) + pad + 1, 0, width))
    y1 = int(np.clip(np.ceil(hi[1]) + pad + 1, 0, height))
    return x0, y0, x1, y1


def rasterize(shapes: Sequence[Shape], width: int, height: int, pad: int = 2) -> Layer:
    """Paint shapes in order (later ones on top) into a layer clipped to the frame."""
    if not shapes:
        return Layer(0, 0, np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32))
    x0, y0, x1, y1 = _bounds(shapes, width, height, pad)
    if x1 <= x0 or y1 <= y0:
        return Layer(0, 0, np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32))
    k = SUPERSAMPLE
    color = np.zeros(((y1 - y0) * k, (x1 - x0) * k, 3), np.uint8)
    cover = np.zeros(color.shape[:2], np.uint8)
    # frame pixel j spans [j, j + 1); OpenCV puts pixel p's centre at p, hence the half pixel
    origin = np.array([x0, y0], dtype=np.float64)
    for s in shapes:
        pts = np.round(((s.points - origin) * k - 0.5) * _ONE).astype(np.int32)
        c = tuple(int(round(v)) for v in s.color)
        if s.radius > 0:
            centre, r = tuple(int(v) for v in pts[0]), int(round(s.radius * k * _ONE))
            cv2.circle(color, centre, r, c, -1, cv2.LINE_8, _SHIFT)
            cv2.circle(cover, centre, r, 255, -1, cv2.LINE_8, _SHIFT)
            continue
        cv2.fillPoly(color, [pts], c, cv2.LINE_8, _SHIFT)
        cv2.fillPoly(cover, [pts], 255, cv2.LINE_8, _SHIFT)
        if s.outline:
            rim = tuple(int(v * 0.7) for v in c)
            cv2.polylines(color, [pts], True, rim, 1, cv2.LINE_8, _SHIFT)
    color = cv2.bitwise_and(color, color, mask=cover)  # rims drawn across an edge stay inside
    size = (x1 - x0, y1 - y0)
    col = cv2.resize(color, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(cover, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # INTER_AREA on colour over a black canvas is already premultiplied by coverage
    return Layer(x0, y0, col, alpha)


def motion_blur(layer: Layer, dx: float, dy: float, width: int, height: int) -> Layer:
    """Blur a layer along (dx, dy) pixels (the athlete's motion during the exposure)."""
    length = float(np.hypot(dx, dy))
    if layer.empty or length < 1.5:
        return layer
    n = int(np.ceil(length)) | 1
    kernel = np.zeros((n, n), np.float32)
    c = n // 2
    ux, uy = dx / length * (n - 1) / 2, dy / length * (n - 1) / 2
    a, b = (int(round(c - ux)), int(round(c - uy))), (int(round(c + ux)), int(round(c + uy)))
    cv2.line(kernel, a, b, 1.0, 1)
    kernel /= kernel.sum()
    pad = c + 1
    x0, y0 = max(layer.x0 - pad, 0), max(layer.y0 - pad, 0)
    h, w = layer.alpha.shape
    x1, y1 = min(layer.x0 + w + pad, width), min(layer.y0 + h + pad, height)
    color = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
    color[layer.y0 - y0 : layer.y0 - y0 + h, layer.x0 - x0 : layer.x0 - x0 + w] = layer.color
    alpha[layer.y0 - y0 : layer.y0 - y0 + h, layer.x0 - x0 : layer.x0 - x0 + w] = layer.alpha
    blur = cv2.filter2D(color, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    return Layer(x0, y0, blur, cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT))


def full_alpha(layer: Layer, width: int, height: int) -> np.ndarray:
    """The layer's coverage as a full-frame array."""
    alpha = np.zeros((height, width), np.float32)
    if not layer.empty:
        h, w = layer.alpha.shape
        alpha[layer.y0 : layer.y0 + h, layer.x0 : layer.x0 + w] = layer.alpha
    return alpha
