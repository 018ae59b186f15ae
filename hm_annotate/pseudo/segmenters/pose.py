"""The ``pose`` segmenter: a person mask from a pretrained human model (MediaPipe's BlazePose).

GrabCut only knows colours, so background of the athlete's colour leaks in even with an exact
box. A model trained on people knows bodies. Per box, the landmark model looks at a square crop
around the tracked box, its longer side times ``enlarge`` and scaled to the model's 256 px (a
small athlete is seen at the model's scale), upright first and then turned by 90, 180 and 270
degrees until it is sure a person is there (divers and breakdancers are upside down). From the
body points it finds on that crop, a second crop frames the body exactly (centred on the hips,
turned so the body stands upright, as MediaPipe follows a person), and the person probability
there, above ``threshold``, is the mask. The score is the model's presence (0-1).

Where no turn shows a person with presence ``min_presence`` (a figure too small or too unlike
the people the model learned from, such as the synthetic divers), the ``fallback`` segmenter
(GrabCut by default, with its own parameters) answers for that box, so the prior never makes
things worse than the colour model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hm_annotate.pseudo.pose_models import Landmarker, Person, crop_of_box, person_mask
from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter

TURNS = (0.0, 90.0, 180.0, 270.0)


class PoseSegmenter(Segmenter):
    """Person masks from the pose landmark model on the box's crop, a fallback where it sees nobody."""

    name = "pose"

    def __init__(
        self,
        enlarge: float = 1.5,
        min_presence: float = 0.5,
        threshold: float = 0.5,
        refine: int = 1,
        fallback: str | None = "grabcut",
        fallback_params: dict[str, Any] | None = None,
        threads: int = 1,
    ) -> None:
        from hm_annotate.pseudo.segmenters.registry import SEGMENTERS

        if enlarge < 1:
            raise ValueError(f"pose: enlarge must be at least 1 (the crop holds the box), got {enlarge}")
        self.enlarge = enlarge
        self.min_presence = min_presence
        self.threshold = threshold
        self.refine = refine
        self.threads = threads
        self.fallback_name = fallback
        self.fallback_params = dict(fallback_params or {})
        self._fallback = SEGMENTERS.create(fallback, **self.fallback_params) if fallback else None
        if self._fallback is not None:
            self.motion_offsets = self._fallback.motion_offsets
            self.uses_appearance = self._fallback.uses_appearance
        self._model: Landmarker | None = None
        self._last: tuple[Any, np.ndarray, list[Person]] | None = None

    @property
    def model(self) -> Landmarker:
        if self._model is None:
            self._model = Landmarker(self.threads)
        return self._model

    def describe(self) -> dict[str, Any]:
        return {
            "segmenter": self.name,
            "model": "mediapipe pose_landmark_full",
            "enlarge": self.enlarge,
            "min_presence": self.min_presence,
            "threshold": self.threshold,
            "refine": self.refine,
            "fallback": self._fallback.describe() if self._fallback else None,
        }

    def prepare(self, frames: Sequence[np.ndarray]) -> list[Any]:
        states = self._fallback.prepare(frames) if self._fallback else [None] * len(frames)
        return list(zip(frames, states))

    def _people(self, image: Any, boxes: np.ndarray) -> list[Person]:
        """``find`` for each box, kept for the frame's ``segment`` call after ``needs_motion``."""
        if self._last is None or self._last[0] is not image or not np.array_equal(self._last[1], boxes):
            self._last = image, boxes.copy(), [self.find(image[0], box) for box in boxes]
        return self._last[2]

    def needs_motion(self, image: Any, boxes: np.ndarray) -> bool:
        """Only the fallback uses motion, and only for boxes where the model sees nobody."""
        if self._fallback is None or not self._fallback.needs_motion(image[1], boxes):
            return False
        return any(p.presence < self.min_presence for p in self._people(image, boxes))

    def find(self, frame: np.ndarray, box: np.ndarray) -> Person:
        """The landmark model's best view of the person in ``box``: the first turn of the box's crop
        that shows a person, then ``refine`` times the crop their own body points frame."""
        crops = [crop_of_box(box, self.enlarge, angle) for angle in TURNS]
        person = self.model.best(frame, crops, self.min_presence)
        for _ in range(self.refine if person.presence >= self.min_presence else 0):
            again = self.model.person(frame, person.next_crop())
            if again.presence < self.min_presence:
                break
            person = again
        return person

    def segment(
        self,
        image: Any,
        boxes: np.ndarray,
        priors: Sequence[np.ndarray | None],
        seed: int,
        motion: np.ndarray | None = None,
        appearance: Sequence[np.ndarray | None] | None = None,
    ) -> list[Segmentation]:
        frame, state = image
        h, w = frame.shape[:2]
        out: list[Segmentation | None] = []
        unseen: list[int] = []
        for i, person in enumerate(self._people(image, boxes)):
            if person.presence >= self.min_presence or self._fallback is None:
                mask = person_mask(person, h, w, self.threshold)
                out.append(Segmentation(mask, person.presence))
            else:
                out.append(None)
                unseen.append(i)
        if unseen:
            looks = [appearance[i] for i in unseen] if appearance is not None else None
            answers = self._fallback.segment(
                state, boxes[unseen], [priors[i] for i in unseen], seed, motion, looks
            )
            for i, answer in zip(unseen, answers, strict=True):
                out[i] = answer
        return [s for s in out if s is not None]
