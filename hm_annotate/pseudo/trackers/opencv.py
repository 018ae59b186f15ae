"""OpenCV's CSRT, KCF and MIL trackers behind the ``Tracker`` interface.

OpenCV's own success flag is the main loss signal (KCF and CSRT drop the target when their
response peak gets weak; MIL never does), so each tracker also compares the colour histogram of
the tracked box with the one it started from: a box that slid onto background scores low.
When the segmenter's mask and the tracked box disagree a lot the tracker restarts on the mask's
box, which stops the slow drift these trackers show on deforming bodies.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import cv2
import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.trackers.base import Track, Tracker


def _colour_hist(frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    h, w = frame.shape[:2]
    x, y, bw, bh = boxes.to_xywh(box, h, w)
    crop = frame[y : y + bh, x : x + bw]
    if crop.size == 0:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None, alpha=1.0, norm_type=cv2.NORM_L1)


class _OpenCVTracker(Tracker):
    """Shared driving code; subclasses say which OpenCV tracker to create."""

    def __init__(self, reinit_iou: float = 0.8) -> None:
        self.reinit_iou = reinit_iou
        self._tracker: Any = None
        self._template: np.ndarray | None = None
        self._box: np.ndarray | None = None
        self._size: np.ndarray | None = None  # width, height of the last mask

    @abstractmethod
    def _create(self) -> Any:
        """A fresh OpenCV tracker object."""

    def start(self, frame: np.ndarray, box: np.ndarray) -> None:
        h, w = frame.shape[:2]
        self._tracker = self._create()
        self._tracker.init(np.ascontiguousarray(frame[..., ::-1]), boxes.to_xywh(box, h, w))
        self._template = _colour_hist(frame, box)
        self._box = boxes.as_box(box)
        self._size = None

    def update(self, frame: np.ndarray) -> Track | None:
        ok, rect = self._tracker.update(np.ascontiguousarray(frame[..., ::-1]))
        if not ok:
            return None
        box = boxes.from_xywh(rect)
        self._box = box
        if self._size is not None:  # KCF and MIL keep their first box size: use the mask's
            c = boxes.center(box)
            box = np.concatenate([c - self._size / 2, c + self._size / 2])
        hist = _colour_hist(frame, box)
        if hist is None or self._template is None:
            return Track(box, 0.0)
        # Bhattacharyya distance is 0 for identical histograms and 1 for disjoint ones
        similarity = 1.0 - cv2.compareHist(self._template, hist, cv2.HISTCMP_BHATTACHARYYA)
        return Track(box, float(np.clip(similarity, 0.0, 1.0)))

    def correct(self, frame: np.ndarray, mask: np.ndarray) -> None:
        mask_box = boxes.of_mask(mask)
        if mask_box is not None:
            self._size = mask_box[2:] - mask_box[:2]
        if (
            mask_box is not None
            and self._box is not None
            and boxes.iou(mask_box, self._box) < self.reinit_iou
        ):
            template = self._template
            self.start(frame, mask_box)
            self._template = template
            self._size = mask_box[2:] - mask_box[:2]

    def describe(self) -> dict[str, Any]:
        return {"tracker": self.name, "reinit_iou": self.reinit_iou}


class CSRTTracker(_OpenCVTracker):
    """Discriminative correlation filter with channel and spatial reliability (accurate, slowest)."""

    name = "csrt"

    def _create(self) -> Any:
        return cv2.TrackerCSRT_create()


class KCFTracker(_OpenCVTracker):
    """Kernelized correlation filter (fast, fixed box size)."""

    name = "kcf"

    def _create(self) -> Any:
        return cv2.TrackerKCF_create()


class MILTracker(_OpenCVTracker):
    """Multiple-instance learning tracker (robust to partial occlusion, never reports a loss itself)."""

    name = "mil"

    def _create(self) -> Any:
        return cv2.TrackerMIL_create()
