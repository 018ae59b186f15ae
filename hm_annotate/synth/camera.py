"""A broadcast camera that pans and zooms to follow the dive, as an operator would.

The operator leads the athlete by a couple of frames, smooths the pan (a lag you can see),
zooms in for the flight and out again for the splash, never loses the athlete off the frame,
and the hand-held image shakes a little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hm_annotate.synth.body import Part
from hm_annotate.synth.motion import ease
from hm_annotate.synth.raster import Shape

BODY_HEIGHT = 1.75


@dataclass(frozen=True)
class Camera:
    """Per frame: the world point (metres) at the image centre and the scale (pixels/metre)."""

    centre: np.ndarray
    scale: np.ndarray
    width: int
    height: int

    def to_px(self, i: int, pts: np.ndarray, parallax: float = 1.0) -> np.ndarray:
        """World points (N, 2) -> pixel coordinates (N, 2) in frame i."""
        s, (cx, cy) = self.scale[i], self.centre[i] * parallax
        return np.stack([self.width / 2 + s * (pts[:, 0] - cx), self.height / 2 - s * (pts[:, 1] - cy)], 1)

    def shapes(self, i: int, parts: Sequence[Part]) -> list[Shape]:
        """Body parts (world polygons) as outlined pixel shapes of frame i, in one transform."""
        if not parts:
            return []
        pts = self.to_px(i, np.concatenate([p.points for p in parts]))
        cuts = np.cumsum([len(p.points) for p in parts])[:-1]
        return [Shape(q, p.color, outline=True) for q, p in zip(np.split(pts, cuts), parts, strict=True)]

    def to_world(self, i: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, (cx, cy) = self.scale[i], self.centre[i]
        return cx + (u - self.width / 2) / s, cy - (v - self.height / 2) / s

    def waterline(self, i: int) -> float:
        """Image row (float) of the water surface, world y = 0."""
        return self.height / 2 + self.scale[i] * self.centre[i][1]

    def view(self, i: int, parallax: float = 1.0) -> tuple[float, float, float, float]:
        """World rectangle (x0, y0, x1, y1) seen in frame i."""
        s, (cx, cy) = self.scale[i], self.centre[i] * parallax
        hw, hh = self.width / (2 * s), self.height / (2 * s)
        return cx - hw, cy - hh, cx + hw, cy + hh


def follow(
    subject: np.ndarray,
    phases: tuple[float, float],
    width: int,
    height: int,
    rng: np.random.Generator,
    pair: bool,
) -> Camera:
    """Follow ``subject`` (n, 2 world metres); ``phases`` = (take-off end, entry) frame indices."""
    n = len(subject)
    frames = np.arange(n, dtype=np.float64)
    # above the water the operator frames the body; once it is in, the splash
    subject = np.stack([subject[:, 0], np.maximum(subject[:, 1], 0.9)], 1)
    lead = np.stack([np.interp(frames + 2.0, frames, subject[:, k]) for k in range(2)], 1)
    lag = rng.uniform(0.35, 0.6)
    centre = np.empty((n, 2))
    centre[0] = lead[0]
    for i in range(1, n):
        centre[i] = centre[i - 1] + lag * (lead[i] - centre[i - 1])
    t1, te = phases
    base = height * rng.uniform(0.42, 0.52) / BODY_HEIGHT * (0.85 if pair else 1.0)
    zoom = ease(frames, [0, t1, (t1 + te) / 2, te, n - 1], [rng.uniform(0.85, 1.0), 1.0,
                rng.uniform(1.0, 1.15), 1.0, rng.uniform(0.85, 1.0)])  # fmt: skip
    scale = base * zoom
    # keep the athlete well inside the frame whatever the lag
    reach = np.stack([0.3 * width / scale, 0.28 * height / scale], 1)
    centre = np.clip(centre, subject - reach, subject + reach)
    shake = np.cumsum(rng.normal(0.0, 0.35, (n, 2)), 0)
    shake -= np.linspace(0, 1, n)[:, None] * shake[-1]  # a wander that returns, not a drift
    centre = centre + shake / scale[:, None]
    return Camera(centre, scale, width, height)
