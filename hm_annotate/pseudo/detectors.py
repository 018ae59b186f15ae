"""Find the athlete without a prompt: moving-object detection or OpenCV's people detector.

``motion``: broadcast cameras pan and zoom with the athlete, so frame differences alone light up
the whole background. Neighbouring frames (a few before and after) are first aligned to the
current one with a homography fitted (RANSAC) to corners followed by Lucas-Kanade flow (an ECC
translation when too few corners); their per-pixel median is the background, and the difference
from it is what moves. A threshold over the noise level, morphology, and a choice among the
connected components (big, compact, body proportions, much of it moving) give the boxes.

``hog``: the Dalal-Triggs HOG people detector shipped with OpenCV, run on an enlarged frame
(its window is 64 x 128 px); it finds upright people, so it suits standing and entering athletes
better than somersaults.

Detectors return boxes as an m x 5 array ``x0, y0, x1, y1, score``, best first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from hm_annotate.registry import Registry


class Detector(ABC):
    """Proposes athlete boxes in a frame; ``offsets`` are the neighbouring frames it wants to see."""

    name: str = ""
    offsets: tuple[int, ...] = ()
    # whether ``detect`` works from ``background_difference`` (the pipeline then shares its copy)
    uses_background: bool = False

    @abstractmethod
    def detect(
        self,
        frame: np.ndarray,
        neighbours: Sequence[np.ndarray],
        background: Background | None = None,
    ) -> np.ndarray:
        """Boxes in ``frame`` (H x W x 3 RGB) given the frames at ``offsets`` that exist, and
        ``background_difference(frame, neighbours)`` when the caller already has it."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance: detector name and parameters."""


def _gray(frame: np.ndarray, scale: float) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        g = cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return g


def align(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """3 x 3 homography taking ``moving`` onto ``fixed`` (gray images), identity when it cannot tell."""
    pts = cv2.goodFeaturesToTrack(moving, 400, 0.01, 5)
    if pts is not None and len(pts) >= 12:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(moving, fixed, pts, None, winSize=(21, 21), maxLevel=3)
        ok = status.ravel() == 1
        if ok.sum() >= 12:
            h, inliers = cv2.findHomography(pts[ok], moved[ok], cv2.RANSAC, 2.0)
            if h is not None and inliers.sum() >= 10:
                return h
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        _, warp = cv2.findTransformECC(fixed, moving, warp, cv2.MOTION_TRANSLATION, criteria, None, 5)
    except cv2.error:
        return np.eye(3)
    # ECC maps fixed -> moving coordinates; invert the translation to move ``moving`` onto ``fixed``
    return np.array([[1, 0, -warp[0, 2]], [0, 1, -warp[1, 2]], [0, 0, 1]], np.float64)


BACKGROUND_SIDE = 320  # background differences are made at this size (longest side, pixels)


@dataclass(frozen=True)
class Background:
    """How a frame differs from its neighbours, at ``scale`` times the frame size.

    ``diff``: from the camera-compensated background (what moved in the world);
    ``screen``: from the neighbours as they are, unaligned (what changed on screen; near zero on
    captions and logos laid over a panning picture, which ``diff`` shows as moving). Only the
    detector needs ``screen``, so it is worked out from ``frame`` and ``raw`` when first asked for.
    """

    diff: np.ndarray
    scale: float
    frame: np.ndarray  # the frame at ``scale``, float32
    raw: np.ndarray  # the neighbours at ``scale``, unaligned, uint16, stacked

    @cached_property
    def screen(self) -> np.ndarray:
        if len(self.raw) == 0:
            return np.zeros(self.diff.shape, np.float32)
        return np.abs(self.frame - _median(self.raw)[0]).max(axis=2)


MISSING = 256  # in a uint16 stack of 8-bit pixels: no value here (sorts after every pixel value)


def _median(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (lower) median over the first axis of a uint16 stack of the values that are not
    ``MISSING``, and how many there were (``MISSING`` where none).

    The few planes are sorted by a network of element-wise min/max, many times faster than
    ``np.sort`` along a short strided axis (and on 16-bit integers, not floats)."""
    covered = (stack[..., 0] != MISSING).sum(axis=0)
    middle = np.maximum(covered - 1, 0) // 2
    planes = list(stack)
    for end in range(len(planes) - 1, 0, -1):  # bubble network: the largest left moves to ``end``
        for i in range(end):
            a, b = planes[i], planes[i + 1]
            planes[i], planes[i + 1] = np.minimum(a, b), np.maximum(a, b)
    return np.choose(middle[..., None], planes), covered


def _reduce(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The frame at background-difference size (largest side at most ``BACKGROUND_SIDE``),
    blurred against noise, its gray version, and the scale."""
    h, w = frame.shape[:2]
    scale = min(1.0, BACKGROUND_SIDE / max(h, w))
    if scale != 1.0:
        frame = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(frame, (5, 5), 0)
    return small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), scale


def _difference(
    cur: np.ndarray, others: Sequence[np.ndarray], homs: Sequence[np.ndarray], scale: float
) -> Background:
    """``Background`` of a reduced frame from reduced neighbours and the homographies taking each
    onto it."""
    size = (cur.shape[1], cur.shape[0])
    cur_f = cur.astype(np.float32)
    if not others:
        zeros = np.zeros(cur.shape[:2], np.float32)
        return Background(zeros, scale, cur_f, np.zeros((0, *cur.shape), np.uint16))
    stack = np.empty((len(others), *cur.shape), np.uint16)
    raw = np.stack(others).astype(np.uint16)
    ones = np.ones(cur.shape[:2], np.uint8)
    for i, (other, hom) in enumerate(zip(others, homs, strict=True)):
        stack[i] = cv2.warpPerspective(other, hom, size, flags=cv2.INTER_LINEAR)
        valid = cv2.warpPerspective(ones, hom, size, flags=cv2.INTER_NEAREST)
        stack[i][valid == 0] = MISSING
    background, covered = _median(stack)
    diff = np.abs(cur_f - background).max(axis=2)
    diff[covered == 0] = 0.0
    return Background(diff, scale, cur_f, raw)


def background_difference(frame: np.ndarray, neighbours: Sequence[np.ndarray]) -> Background:
    """Per-pixel difference from the camera-compensated background (and from the unaligned
    neighbours), at a reduced scale.

    The background is the per-pixel median of the neighbours warped onto this frame: where
    the athlete has moved on, most neighbours show background there, so the whole body stands
    out and not just its moving edges (which is all plain frame differencing sees of a body of
    even colour). Differences are float32 at ``scale`` times the frame size (largest side at
    most ``BACKGROUND_SIDE``); pixels no neighbour covers count as unchanged.
    """
    cur, gray, scale = _reduce(frame)
    others = [_reduce(f) for f in neighbours]
    return _difference(cur, [o[0] for o in others], [align(o[1], gray) for o in others], scale)


class VideoBackground:
    """``background_difference`` for the frames of one video, by position, doing each piece of
    work once: a frame is reduced once however many frames it is a neighbour of, and a pair of
    frames is aligned once (from the earlier frame onto the later; the other way is the inverse),
    so the result does not depend on the order frames are asked for."""

    def __init__(self, read: Callable[[int], np.ndarray]) -> None:
        self._read = read
        self._reduced: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self._homs: dict[tuple[int, int], np.ndarray] = {}

    def _frame(self, position: int) -> tuple[np.ndarray, np.ndarray, float]:
        if position not in self._reduced:
            self._reduced[position] = _reduce(self._read(position))
        return self._reduced[position]

    def _onto(self, moving: int, fixed: int) -> np.ndarray:
        a, b = min(moving, fixed), max(moving, fixed)
        if (a, b) not in self._homs:
            self._homs[(a, b)] = align(self._frame(a)[1], self._frame(b)[1])
        hom = self._homs[(a, b)]
        return hom if moving == a else np.linalg.inv(hom)

    def difference(self, position: int, neighbours: Sequence[int]) -> Background:
        """``background_difference`` of the frame at ``position`` against those at ``neighbours``."""
        cur, _, scale = self._frame(position)
        others = [self._frame(p)[0] for p in neighbours]
        return _difference(cur, others, [self._onto(p, position) for p in neighbours], scale)

    def forget(self, lo: int, hi: int) -> None:
        """Drop what only frames outside positions ``lo..hi`` need."""
        for p in [p for p in self._reduced if not lo <= p <= hi]:
            del self._reduced[p]
        for pair in [k for k in self._homs if not (lo <= k[0] <= hi or lo <= k[1] <= hi)]:
            del self._homs[pair]


class MotionDetector(Detector):
    """Moving-athlete detector: background subtraction against camera-motion-compensated neighbours."""

    name = "motion"

    def __init__(
        self,
        step: int = 3,
        neighbours: int = 3,
        min_threshold: float = 14.0,
        noise_sigmas: float = 4.0,
        min_area: float = 0.002,
        max_area: float = 0.5,
        join: float = 0.03,
    ) -> None:
        self.step = step
        self.neighbours = neighbours
        self.offsets = tuple(sorted(s * step for s in range(-neighbours, neighbours + 1) if s != 0))
        self.min_threshold = min_threshold
        self.noise_sigmas = noise_sigmas
        self.min_area = min_area
        self.max_area = max_area
        self.join = join

    def describe(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "step": self.step,
            "neighbours": self.neighbours,
            "min_threshold": self.min_threshold,
            "noise_sigmas": self.noise_sigmas,
            "min_area": self.min_area,
            "max_area": self.max_area,
            "join": self.join,
        }

    uses_background = True

    def detect(
        self,
        frame: np.ndarray,
        neighbours: Sequence[np.ndarray],
        background: Background | None = None,
    ) -> np.ndarray:
        bg = background if background is not None else background_difference(frame, neighbours)
        motion, scale = bg.diff, bg.scale
        if not motion.any():
            return np.zeros((0, 5))
        med = float(np.median(motion))
        noise = 1.4826 * float(np.median(np.abs(motion - med)))
        moving = (motion > max(self.min_threshold, med + self.noise_sigmas * noise)).astype(np.uint8)
        side = min(motion.shape)
        small = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, small)
        k = max(3, int(round(self.join * side)) | 1)
        joined = cv2.dilate(moving, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        n, labels = cv2.connectedComponents(joined, connectivity=8)
        if n <= 1:
            return np.zeros((0, 5))
        # boxes and motion of the original moving pixels of each joined group
        lab = labels[moving > 0]
        ys, xs = np.nonzero(moving)
        x0 = np.full(n, np.inf)
        y0 = np.full(n, np.inf)
        x1 = np.full(n, -np.inf)
        y1 = np.full(n, -np.inf)
        np.minimum.at(x0, lab, xs)
        np.minimum.at(y0, lab, ys)
        np.maximum.at(x1, lab, xs + 1)
        np.maximum.at(y1, lab, ys + 1)
        count = np.bincount(lab, minlength=n).astype(np.float64)
        energy = np.bincount(lab, weights=motion[ys, xs], minlength=n)
        # captions and logos ride with the screen: they "move" against the compensated background
        # but not on screen
        on_screen = np.bincount(lab, weights=bg.screen[ys, xs], minlength=n) / np.maximum(
            np.bincount(lab, minlength=n), 1
        )
        box_area = np.clip((x1 - x0) * (y1 - y0), 1, None)
        total = motion.shape[0] * motion.shape[1]
        fill = count / box_area
        aspect = (y1 - y0) / np.clip(x1 - x0, 1, None)
        ok = (
            (count > 0)
            & (box_area >= self.min_area * total)
            & (box_area <= self.max_area * total)
            & (aspect > 0.2)
            & (aspect < 6.0)
            & (on_screen >= self.min_threshold)
        )
        ok[0] = False
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return np.zeros((0, 5))
        # a body is one dense blob: favour groups with much motion that fill their box; broadcast
        # framing keeps the athlete off the frame edges, while boards, captions and crowd bands
        # run into them and are wide
        hs, ws = motion.shape
        edge = (x0[idx] <= 1) | (y0[idx] <= 1) | (x1[idx] >= ws - 1) | (y1[idx] >= hs - 1)
        score = (
            energy[idx] * np.sqrt(fill[idx]) * np.where(edge, 0.25, 1.0) * np.minimum(1.0, 1.5 * aspect[idx])
        )
        rank = np.argsort(-score, kind="stable")
        order = idx[rank]
        out = np.stack([x0[order], y0[order], x1[order], y1[order], score[rank]], axis=1)
        out[:, :4] /= scale
        return out


class HOGDetector(Detector):
    """OpenCV's HOG + linear SVM people detector on an enlarged frame."""

    name = "hog"

    def __init__(
        self, height: int = 512, stride: int = 8, scale: float = 1.05, min_weight: float = 0.5
    ) -> None:
        self.height = height
        self.stride = stride
        self.scale = scale
        self.min_weight = min_weight
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def describe(self) -> dict[str, Any]:
        return {
            "detector": self.name,
            "height": self.height,
            "stride": self.stride,
            "scale": self.scale,
            "min_weight": self.min_weight,
        }

    def detect(
        self,
        frame: np.ndarray,
        neighbours: Sequence[np.ndarray],
        background: Background | None = None,
    ) -> np.ndarray:
        f = max(1.0, self.height / frame.shape[0])
        big = cv2.resize(frame, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR) if f > 1 else frame
        rects, weights = self._hog.detectMultiScale(
            cv2.cvtColor(big, cv2.COLOR_RGB2GRAY),
            winStride=(self.stride, self.stride),
            padding=(8, 8),
            scale=self.scale,
        )
        if len(rects) == 0:
            return np.zeros((0, 5))
        w = np.asarray(weights, np.float64).ravel()
        r = np.asarray(rects, np.float64).reshape(-1, 4) / f
        out = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3], w], axis=1)
        out = out[w >= self.min_weight]
        return out[np.argsort(-out[:, 4], kind="stable")]


DETECTORS: Registry[Detector] = Registry(
    "detector",
    "hm_annotate.detectors",
    {
        "motion": "hm_annotate.pseudo.detectors:MotionDetector",
        "hog": "hm_annotate.pseudo.detectors:HOGDetector",
        "pose": "hm_annotate.pseudo.pose_detector:PosePersonDetector",
    },
)
