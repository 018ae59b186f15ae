"""Mask-flow tracking: move the last mask with optical flow measured inside it.

Points inside the previous mask are followed into the new frame (pyramidal Lucas-Kanade with a
forward-backward check, or dense Farneback flow sampled on a grid), a similarity transform
(shift, scale, rotation) is fitted to them with RANSAC, and the mask and its box are moved with
it (a scale change beyond ``max_scale_step`` in one frame is not believed: then the mask
moves by the median flow only). The segmenter then refines the moved mask, and ``correct`` hands
the refined mask back, so the tracker never drifts further than one frame's flow error.
Confidence is the share of points that agree with the fitted motion.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.trackers.base import Track, Tracker

_METHODS = ("lk", "farneback")


class MaskFlowTracker(Tracker):
    """Propagates the last mask (and its box) with optical flow inside the mask."""

    name = "mask-flow"

    def __init__(
        self,
        method: str = "lk",
        max_points: int = 300,
        grid_step: int = 4,
        fb_threshold: float = 1.0,
        min_points: int = 6,
        context: float = 0.5,
        max_scale_step: float = 1.25,
    ) -> None:
        if method not in _METHODS:
            raise ValueError(f"mask-flow method must be one of {_METHODS}, got {method!r}")
        self.method = method
        self.max_points = max_points
        self.grid_step = grid_step
        self.fb_threshold = fb_threshold
        self.min_points = min_points
        self.context = context
        self.max_scale_step = max_scale_step
        self._gray: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._box: np.ndarray | None = None

    def start(self, frame: np.ndarray, box: np.ndarray) -> None:
        h, w = frame.shape[:2]
        self._gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        self._box = boxes.clip(boxes.as_box(box), h, w)
        x, y, bw, bh = boxes.to_xywh(self._box, h, w)
        self._mask = np.zeros((h, w), np.uint8)
        self._mask[y : y + bh, x : x + bw] = 1

    def correct(self, frame: np.ndarray, mask: np.ndarray) -> None:
        self._gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        mask_box = boxes.of_mask(mask)
        if mask_box is not None:
            self._mask = mask.astype(np.uint8)
            self._box = mask_box

    def _roi(self, height: int, width: int) -> tuple[slice, slice, int, int]:
        x, y, bw, bh = boxes.to_xywh(boxes.expand(self._box, self.context), height, width)
        return slice(y, y + bh), slice(x, x + bw), x, y

    def _lk_points(
        self, prev: np.ndarray, cur: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        pts = cv2.goodFeaturesToTrack(prev, self.max_points, 0.01, 2, mask=mask)
        if pts is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
        lk = {
            "winSize": (15, 15),
            "maxLevel": 3,
            "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
        }
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, fwd, None, **lk)
        fb_error = np.linalg.norm((pts - back).reshape(-1, 2), axis=1)
        keep = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb_error < self.fb_threshold)
        return pts.reshape(-1, 2)[keep], fwd.reshape(-1, 2)[keep]

    def _farneback_points(
        self, prev: np.ndarray, cur: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        flow = cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        ys, xs = np.nonzero(mask[:: self.grid_step, :: self.grid_step])
        ys, xs = ys * self.grid_step, xs * self.grid_step
        src = np.stack([xs, ys], axis=1).astype(np.float32)
        return src, src + flow[ys, xs]

    def update(self, frame: np.ndarray) -> Track | None:
        h, w = frame.shape[:2]
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        rows, cols, x0, y0 = self._roi(h, w)
        prev, cur, mask = self._gray[rows, cols], gray[rows, cols], self._mask[rows, cols]
        find = self._lk_points if self.method == "lk" else self._farneback_points
        src, dst = find(prev, cur, mask)
        n = len(src)
        if n < self.min_points:
            return None
        transform, inliers = cv2.estimateAffinePartial2D(
            src,
            dst,
            method=cv2.RANSAC,
            ransacReprojThreshold=2.0,
            maxIters=500,
            confidence=0.99,
            refineIters=5,
        )
        if transform is None:
            return None
        confidence = float(inliers.sum()) / n
        scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
        if not 1 / self.max_scale_step <= scale <= self.max_scale_step:
            # a body does not grow or shrink that much between frames: the fit took in points on
            # the venue (rails, board edges); move the mask by the median flow instead
            shift = np.median(dst - src, axis=0)
            transform = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float64)
        # express the ROI-local transform in frame coordinates and move the whole mask with it
        shift = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
        full = (shift @ np.vstack([transform, [0, 0, 1]]) @ np.linalg.inv(shift))[:2]
        moved = cv2.warpAffine(self._mask, full, (w, h), flags=cv2.INTER_NEAREST)
        box = boxes.of_mask(moved)
        if box is None:
            return None
        self._gray, self._mask, self._box = gray, moved, box
        return Track(box, confidence, moved.astype(bool))

    def describe(self) -> dict[str, Any]:
        return {
            "tracker": self.name,
            "method": self.method,
            "max_points": self.max_points,
            "grid_step": self.grid_step,
            "fb_threshold": self.fb_threshold,
            "min_points": self.min_points,
            "context": self.context,
            "max_scale_step": self.max_scale_step,
        }
