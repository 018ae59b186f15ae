"""Masks that cannot run away: a new mask may only reach as far as the athlete's measured motion.

Each accepted mask re-anchors the tracker, so a mask that leaked into background of the
athlete's colour (a wall, a court, a crowd) widens the next box, the next mask leaks further, and
within a few frames the mask covers several times the athlete. The guard measures how the
athlete moved since the last accepted mask: points inside that mask are followed into the new
frame with pyramidal Lucas-Kanade flow (forward-backward checked). The body as a whole moves by
their median displacement; a limb can reach further by as much as the points move against that
median (the 90th percentile of such relative displacements, plus ``jitter`` of the body's size for what no
corner shows: an outline moves by a few pixels from frame to frame however still the body). The
last accepted box, moved by the median and grown each side by that reach, is where the athlete
can be. A mask with more than ``outside`` of its pixels beyond that box ran away: it is cut to
the box, not handed back to the tracker (whose own box stands), and the frame is flagged for
review. Where too few points can be followed, nothing is measured and nothing is judged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hm_annotate.pseudo import boxes

MIN_POINTS = 6
LIMB_PERCENTILE = 90  # of the points' motion against the body's: the fastest limbs, not the odd bad track


@dataclass(frozen=True)
class Verdict:
    """Whether a mask stays within what the measured motion allows, and the box that allows."""

    runaway: bool
    allowed: np.ndarray | None  # x0, y0, x1, y1; None when motion could not be measured
    outside: float  # share of the mask beyond ``allowed``

    def cut(self, mask: np.ndarray) -> np.ndarray:
        """``mask`` with what lies beyond the allowed box removed."""
        if self.allowed is None:
            return mask
        h, w = mask.shape
        x, y, bw, bh = boxes.to_xywh(self.allowed, h, w)
        out = np.zeros_like(mask)
        out[y : y + bh, x : x + bw] = mask[y : y + bh, x : x + bw]
        return out


class RunawayGuard:
    """Judges one athlete's new masks against the motion since their last accepted mask."""

    def __init__(self, jitter: float = 0.1, outside: float = 0.15, context: float = 0.5) -> None:
        self.jitter = jitter
        self.outside = outside
        self.context = context
        self._gray: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._box: np.ndarray | None = None
        self._current: tuple[np.ndarray, np.ndarray] | None = None  # the last frame seen, in grey

    def _grey(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` in grey, converted once for ``check`` and the ``remember`` that follows it."""
        if self._current is None or self._current[0] is not frame:
            self._current = frame, cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return self._current[1]

    def reset(self) -> None:
        """Forget the reference (a prompt or a detection starts the athlete afresh)."""
        self._gray = self._mask = self._box = None

    def remember(self, frame: np.ndarray, mask: np.ndarray) -> None:
        """The accepted mask of ``frame``: the reference for the next judgement."""
        box = boxes.of_mask(mask)
        if box is None:
            return
        self._gray = self._grey(frame)
        self._mask, self._box = mask.astype(np.uint8), box

    def allowed(self, frame: np.ndarray) -> np.ndarray | None:
        """Where the athlete can be in ``frame`` given the motion measured since the reference;
        None when there is no reference or too few points could be followed."""
        if self._gray is None:
            return None
        h, w = frame.shape[:2]
        x, y, bw, bh = boxes.to_xywh(boxes.expand(self._box, self.context), h, w)
        rows, cols = slice(y, y + bh), slice(x, x + bw)
        prev, mask = self._gray[rows, cols], self._mask[rows, cols]
        cur = self._grey(frame)[rows, cols]
        pts = cv2.goodFeaturesToTrack(prev, 200, 0.01, 3, mask=mask)
        if pts is None or len(pts) < MIN_POINTS:
            return None
        lk = {"winSize": (15, 15), "maxLevel": 3}
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, fwd, None, **lk)
        fb_error = np.linalg.norm((pts - back).reshape(-1, 2), axis=1)
        good = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb_error < 1.0)
        if good.sum() < MIN_POINTS:
            return None
        moves = (fwd - pts).reshape(-1, 2)[good]
        shift = np.median(moves, axis=0)
        limb = float(np.percentile(np.linalg.norm(moves - shift, axis=1), LIMB_PERCENTILE))
        reach = limb + self.jitter * np.sqrt(float(self._mask.sum()))
        return self._box + np.array([shift[0] - reach, shift[1] - reach, shift[0] + reach, shift[1] + reach])

    def check(self, frame: np.ndarray, mask: np.ndarray) -> Verdict:
        """Whether ``mask`` (H x W bool, for ``frame``) reaches beyond the measured motion."""
        allowed = self.allowed(frame)
        area = int(mask.sum())
        if allowed is None or area == 0:
            return Verdict(False, allowed, 0.0)
        h, w = mask.shape
        x, y, bw, bh = boxes.to_xywh(allowed, h, w)
        inside = int(mask[y : y + bh, x : x + bw].sum())
        share = 1.0 - inside / area
        return Verdict(share > self.outside, allowed, share)
