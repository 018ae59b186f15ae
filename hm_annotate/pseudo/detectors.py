"""Find the athlete without a prompt: moving-object detection or OpenCV's people detector.

``motion``: what differs from the camera-compensated background (``frames.background_difference``)
moves. A threshold over the noise level, morphology, and a choice among the connected components
(big, compact, body proportions, much of it moving) give the boxes.

``hog``: the Dalal-Triggs HOG people detector shipped with OpenCV, run on an enlarged frame
(its window is 64 x 128 px); it finds upright people, so it suits standing and entering athletes
better than somersaults.

Detectors return boxes as an m x 5 array ``x0, y0, x1, y1, score``, best first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from hm_annotate.pseudo.frames import Background, background_difference
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
