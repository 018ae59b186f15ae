"""A pretrained human prior: MediaPipe's BlazePose models run with the LiteRT interpreter.

The two ``.tflite`` files in ``hm_annotate/_data/models`` are MediaPipe's pose detector and its
full pose landmark model (Apache 2.0, as shipped in the ``mediapipe`` 0.10.21 wheel; see the
README there). They are run with ``ai-edge-litert``, Google's TFLite interpreter on PyPI: the
``mediapipe`` wheels that ship these models pin numpy < 2 or pull a second, non-headless OpenCV,
and the interpreter needs neither. It is imported on first use, so the rest of the package works
where it is not installed.

``Landmarker.person`` looks at a square crop of the frame (any centre, side and rotation) and
says whether a person fills it (``presence``, 0-1) and which pixels are that person
(``probability``, a 256 x 256 map); ``crop_person`` pastes that map back into the frame.
``PoseDetector.bodies`` (or ``bodies_in`` a crop) finds people: each a body centre, size and
tilt, from which ``body_crop`` makes the crop the landmark model reads. ``PriorModels`` builds the
pair on first use for the plug-ins that run them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.resources import resource_path

LANDMARK_SIDE = 256
DETECTOR_SIDE = 224
RUNTIME = "ai-edge-litert"


class PriorUnavailable(HMError):
    """The pose runtime is not installed."""


def _interpreter(model: str, threads: int) -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise PriorUnavailable(
            f"the pose prior needs the {RUNTIME} package (pip install {RUNTIME}): {exc}"
        ) from None
    path = resource_path(f"models/{model}")
    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    return interp


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


@dataclass(frozen=True)
class Crop:
    """A square view of the frame: centre (x, y), side in pixels, rotation in degrees (the crop
    shows the frame turned by ``angle`` counter-clockwise, so a person lying at ``angle`` shows upright)."""

    cx: float
    cy: float
    side: float
    angle: float = 0.0

    def matrix(self, out: int) -> np.ndarray:
        """2 x 3 affine map from frame pixels to an ``out`` x ``out`` crop."""
        m = cv2.getRotationMatrix2D((self.cx, self.cy), self.angle, out / self.side)
        m[:, 2] += (out / 2 - self.cx, out / 2 - self.cy)
        return m

    def bounds(self, height: int, width: int) -> tuple[int, int, int, int]:
        """Frame rectangle ``x0, y0, x1, y1`` (clipped) that the rotated crop covers."""
        turn = math.radians(self.angle)
        r = self.side / 2 * (abs(math.cos(turn)) + abs(math.sin(turn)))
        x0, y0 = max(0, int(self.cx - r)), max(0, int(self.cy - r))
        x1, y1 = min(width, int(math.ceil(self.cx + r)) + 1), min(height, int(math.ceil(self.cy + r)) + 1)
        return x0, y0, x1, y1


def crop_of_box(box: np.ndarray, enlarge: float, *, angle: float = 0.0) -> Crop:
    """The square crop around a box, its longer side times ``enlarge``."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    side = max(x1 - x0, y1 - y0, 8.0) * enlarge
    return Crop((x0 + x1) / 2, (y0 + y1) / 2, side, angle)


def body_crop(hip: np.ndarray, top: np.ndarray) -> Crop:
    """MediaPipe's body crop: centred on the hip centre, turned so hip -> top points up, 2.5 times
    the hip-top distance on a side (1.25 times the circle that holds the body)."""
    dx, dy = (float(v) for v in np.asarray(top) - np.asarray(hip))
    angle = 90.0 - math.degrees(math.atan2(-dy, dx))
    return Crop(float(hip[0]), float(hip[1]), max(2.5 * math.hypot(dx, dy), 8.0), angle)


@dataclass(frozen=True)
class Person:
    """The landmark model's answer on one crop."""

    crop: Crop
    presence: float
    probability: np.ndarray  # 256 x 256 float32, person probability in crop coordinates
    landmarks: np.ndarray  # 35 x 2, crop pixels (x, y): 33 body points, then hip centre and body top

    def next_crop(self) -> Crop:
        """The crop that frames this person upright, from the model's own hip-centre and body-top
        points (as MediaPipe follows a person from frame to frame)."""
        inverse = cv2.invertAffineTransform(self.crop.matrix(LANDMARK_SIDE))
        hip, top = (inverse[:, :2] @ self.landmarks[k] + inverse[:, 2] for k in (33, 34))
        return body_crop(hip, top)


class Landmarker:
    """MediaPipe's full pose landmark model (``model_complexity=1``) on a crop."""

    def __init__(self, threads: int = 1) -> None:
        self._interp = _interpreter("pose_landmark_full.tflite", threads)
        self._input = self._interp.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._interp.get_output_details()}
        self._landmarks, self._presence, self._mask = outs["Identity"], outs["Identity_1"], outs["Identity_2"]

    def person(self, frame: np.ndarray, crop: Crop) -> Person:
        """Presence and person probability of the crop of ``frame`` (H x W x 3 RGB uint8)."""
        pixels = cv2.warpAffine(
            frame, crop.matrix(LANDMARK_SIDE), (LANDMARK_SIDE, LANDMARK_SIDE),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        self._interp.set_tensor(self._input, (pixels.astype(np.float32) / 255.0)[None])
        self._interp.invoke()
        presence = float(self._interp.get_tensor(self._presence).ravel()[0])
        prob = _sigmoid(self._interp.get_tensor(self._mask)[0, :, :, 0]).astype(np.float32)
        marks = self._interp.get_tensor(self._landmarks).reshape(-1, 5)[:35, :2].copy()
        return Person(crop, presence, prob, marks)


def crop_person(person: Person, height: int, width: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The person probability pasted back into the frame, as the frame rectangle ``x0, y0, x1, y1``
    the crop covers and the probabilities over it (0 where the crop does not reach)."""
    x0, y0, x1, y1 = person.crop.bounds(height, width)
    m = person.crop.matrix(LANDMARK_SIDE)
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0  # the rectangle's pixel (0, 0) is frame pixel (x0, y0)
    prob = cv2.warpAffine(
        person.probability, m, (x1 - x0, y1 - y0), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )  # fmt: skip
    return prob, (x0, y0, x1, y1)


def person_mask(person: Person, height: int, width: int, *, threshold: float = 0.5) -> np.ndarray:
    """H x W bool: the frame pixels the landmark model gives to the person."""
    prob, (x0, y0, x1, y1) = crop_person(person, height, width)
    out = np.zeros((height, width), bool)
    out[y0:y1, x0:x1] = prob > threshold
    return out


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """Centres (x, y, 0-1) of the pose detector's 2254 SSD anchors: MediaPipe's options for it
    (strides 8, 16, 32, 32, 32 on a 224 input, two anchors per cell and layer, fixed size)."""
    out = []
    strides = [8, 16, 32, 32, 32]
    i = 0
    while i < len(strides):
        same = [s for s in strides[i:] if s == strides[i]]
        cells = math.ceil(DETECTOR_SIDE / strides[i])
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs.ravel() + 0.5) / cells, (ys.ravel() + 0.5) / cells], axis=1)
        out.append(np.repeat(centres, 2 * len(same), axis=0))
        i += len(same)
    return np.concatenate(out).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        x0 = np.maximum(boxes[i, 0], boxes[order, 0])
        y0 = np.maximum(boxes[i, 1], boxes[order, 1])
        x1 = np.minimum(boxes[i, 2], boxes[order, 2])
        y1 = np.minimum(boxes[i, 3], boxes[order, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        areas = (boxes[order, 2] - boxes[order, 0]) * (boxes[order, 3] - boxes[order, 1])
        own = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        iou = inter / np.maximum(own + areas - inter, 1e-9)
        order = [j for j, v in zip(order, iou) if v <= overlap]
    return keep


class PoseDetector:
    """MediaPipe's BlazePose detector: body crops (centre, side, tilt) of the people in a frame."""

    def __init__(self, threads: int = 1, min_score: float = 0.5, overlap: float = 0.3) -> None:
        self._interp = _interpreter("pose_detection.tflite", threads)
        self._input = self._interp.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._interp.get_output_details()}
        self._raw, self._scores = outs["Identity"], outs["Identity_1"]
        self.min_score = min_score
        self.overlap = overlap

    def bodies(self, frame: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Hip centre, body-top point (frame pixels) and detection score per person, best first."""
        h, w = frame.shape[:2]
        side = max(h, w)  # letterbox: the frame sits centred in a square of its longer side
        left, top_pad = (side - w) // 2, (side - h) // 2
        square = cv2.copyMakeBorder(
            frame, top_pad, side - h - top_pad, left, side - w - left, cv2.BORDER_CONSTANT
        )
        small = cv2.resize(square, (DETECTOR_SIDE, DETECTOR_SIDE), interpolation=cv2.INTER_AREA)
        offset = np.array([left, top_pad], np.float64)
        return [(hip * side - offset, top * side - offset, score) for hip, top, score in self._run(small)]

    def bodies_in(self, frame: np.ndarray, crop: Crop) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """``bodies`` of one square crop of the frame, in frame pixels."""
        m = crop.matrix(DETECTOR_SIDE)
        pixels = cv2.warpAffine(frame, m, (DETECTOR_SIDE, DETECTOR_SIDE), flags=cv2.INTER_AREA)
        inverse = cv2.invertAffineTransform(m)

        def back(p: np.ndarray) -> np.ndarray:
            return inverse[:, :2] @ (p * DETECTOR_SIDE) + inverse[:, 2]

        return [(back(hip), back(top), score) for hip, top, score in self._run(pixels)]

    def _run(self, small: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Hip centre and body-top point (0-1 of the 224 px input) and score per person, best first."""
        self._interp.set_tensor(self._input, (small.astype(np.float32) / 127.5 - 1.0)[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._raw)[0]
        scores = _sigmoid(self._interp.get_tensor(self._scores)[0, :, 0])
        hit = np.nonzero(scores >= self.min_score)[0]
        if len(hit) == 0:
            return []
        anchors = _anchors()[hit]
        r = raw[hit] / DETECTOR_SIDE
        centre = r[:, 0:2] + anchors
        half = r[:, 2:4] / 2
        keep = _nms(np.concatenate([centre - half, centre + half], axis=1), scores[hit], self.overlap)
        # keypoint 0: mid-hip; keypoint 1: on the circle that holds the body, in the body's direction
        return [(r[k, 4:6] + anchors[k], r[k, 6:8] + anchors[k], float(scores[hit][k])) for k in keep]


class PriorModels:
    """The detector and landmark model of a plug-in, loaded on first use (the interpreter is
    imported then), from the plug-in's ``threads`` and ``min_score``."""

    threads: int
    min_score: float
    _models: tuple[PoseDetector, Landmarker] | None = None

    @property
    def models(self) -> tuple[PoseDetector, Landmarker]:
        if self._models is None:
            self._models = PoseDetector(self.threads, self.min_score), Landmarker(self.threads)
        return self._models
