"""The ``pose`` segmenter: a person mask from a pretrained human model (MediaPipe's BlazePose).

GrabCut only knows colours, so background of the athlete's colour leaks in even with an exact
box. A model trained on people knows bodies. Per box, the pose detector looks at a square crop
around the tracked box, its longer side times ``enlarge`` and scaled to the model's input (a
small athlete is seen at the model's scale), upright first and then turned by 90, 180 and 270
degrees until it finds a person with a detection score of ``min_score`` (divers and breakdancers
are upside down; the detector also gives the body's exact tilt). The score gate is set between
what it gives real people (0.80-0.98 on the shared DAVIS clips, 5th percentile 0.84) and drawn
ones (median 0.57 on the synthetic divers, 90th percentile 0.85): where it is not sure, GrabCut's
colour model, tuned on the synthetic divers, does better there. The landmark model then looks
at the crop that frames that body upright, once more at the crop its own body points frame (as
MediaPipe follows a person), and its person probability above ``threshold`` is the mask. The
score is the landmark model's presence (0-1). Athletes side by side (synchronised divers) are
one person each: a body nearer another athlete's box is theirs, and a person mask shared with
another box (it holds that athlete too, or it is that box's person) goes to the fallback, so a
box does not widen over its neighbour and two tracks do not end up on one body.

Where the detector finds nobody at any turn (a figure too small or too unlike the people the
model learned from, such as the synthetic divers), the ``fallback`` segmenter (GrabCut by
default, with its own parameters) answers for that box, so the prior never makes things worse
than the colour model; the motion cue the fallback uses is made only for such frames. With no
fallback the landmark model's most present view of the box's crop is used. With
``seed_fallback`` (a probability, e.g. 0.9) the fallback refines the person mask too: GrabCut
starts from it instead of the box, its pixels of at least that probability certain foreground,
the rest of it probable, a band around it probable background and the rest certain background,
so colour fits the model's soft outline to the athlete without leaking into the venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hm_annotate.pseudo.boxes import area as box_area
from hm_annotate.pseudo.boxes import center, expand, to_xywh
from hm_annotate.pseudo.pose_models import (
    Crop,
    Person,
    PriorModels,
    body_crop,
    crop_of_box,
    crop_person,
    person_mask,
)
from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter

TURNS = (0.0, 90.0, 180.0, 270.0)


def _shared(masks: Sequence[np.ndarray | None], centres: Sequence[np.ndarray]) -> list[bool]:
    """Which boxes' person masks belong to another athlete's box too (masks by box, None where
    nobody was found; ``centres``: the boxes' centres). A mask that holds most of another box's
    mask and, beside it, at least half as much again is both athletes (the landmark model
    segments whoever stands in its crop); otherwise the two are one person, who is the athlete
    of the box nearer that person's middle. The mask that is both, or not the box's person, is
    refused."""
    out = [False] * len(masks)
    for i, mine in enumerate(masks):
        for j, other in enumerate(masks):
            if i == j or mine is None or other is None:
                continue
            area, common = int(other.sum()), int((mine & other).sum())
            if 2 * common <= area:
                continue  # i does not hold most of j
            if 2 * (int(mine.sum()) - common) > area:
                out[i] = True  # j's athlete and someone else
                continue
            middle = np.argwhere(mine).mean(axis=0)[::-1]  # one person in both: whose box is it?
            out[i] |= bool(np.hypot(*(middle - centres[i])) > np.hypot(*(middle - centres[j])))
    return out


class PoseSegmenter(Segmenter, PriorModels):
    """Person masks from the pose landmark model on the box's crop, a fallback where it sees nobody."""

    name = "pose"

    def __init__(
        self,
        enlarge: float = 1.5,
        min_presence: float = 0.5,
        threshold: float = 0.5,
        refine: int = 1,
        min_score: float = 0.8,
        min_inside: float = 0.8,
        min_fill: float = 0.05,
        fallback: str | None = "grabcut",
        fallback_params: dict[str, Any] | None = None,
        seed_fallback: float | None = None,
        min_agreement: float = 0.0,
        threads: int = 1,
    ) -> None:
        from hm_annotate.pseudo.segmenters.registry import SEGMENTERS

        if enlarge < 1:
            raise ValueError(f"pose: enlarge must be at least 1 (the crop holds the box), got {enlarge}")
        self.enlarge = enlarge
        self.min_presence = min_presence
        self.threshold = threshold
        self.refine = refine
        self.min_score = min_score
        self.min_inside = min_inside
        self.min_fill = min_fill
        self.threads = threads
        self.fallback_params = dict(fallback_params or {})
        self._fallback = SEGMENTERS.create(fallback, **self.fallback_params) if fallback else None
        if seed_fallback is not None and not hasattr(self._fallback, "seeded"):
            raise ValueError(f"pose: seed_fallback needs a seedable fallback (grabcut), not {fallback}")
        self.seed_fallback = seed_fallback
        self.min_agreement = min_agreement
        if self._fallback is not None:
            self.motion_offsets = self._fallback.motion_offsets
            self.uses_appearance = self._fallback.uses_appearance
        self._last: tuple[Any, np.ndarray, list[tuple[Person, np.ndarray] | None]] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "segmenter": self.name,
            "model": "mediapipe pose_landmark_full",
            "enlarge": self.enlarge,
            "min_presence": self.min_presence,
            "threshold": self.threshold,
            "refine": self.refine,
            "min_score": self.min_score,
            "min_inside": self.min_inside,
            "min_fill": self.min_fill,
            "fallback": self._fallback.describe() if self._fallback else None,
            "seed_fallback": self.seed_fallback,
            "min_agreement": self.min_agreement,
        }

    def prepare(self, frames: Sequence[np.ndarray]) -> list[Any]:
        states = self._fallback.prepare(frames) if self._fallback else [None] * len(frames)
        return list(zip(frames, states))

    def people(self, frame: np.ndarray, boxes: np.ndarray) -> list[tuple[Person, np.ndarray] | None]:
        """Each box's person with its mask (``_find``), one person per athlete; None where the
        detector sees nobody or the person is refused.

        Athletes side by side (synchronised divers) share crops: a body nearer another box's
        centre is that athlete's, not this one's, and a person mask shared with another box
        (``_shared``) is refused, so the box does not widen over the neighbour and the two tracks
        do not end up on one body."""
        centres = [center(box) for box in boxes]
        found = [
            self._find(frame, box, [c for j, c in enumerate(centres) if j != i])
            for i, box in enumerate(boxes)
        ]
        refused = _shared([None if f is None else f[1] for f in found], centres)
        return [None if r else f for f, r in zip(found, refused)]

    def _people(self, image: Any, boxes: np.ndarray) -> list[tuple[Person, np.ndarray] | None]:
        """``people``, kept for the frame's ``segment`` call after ``needs_motion`` (the pipeline
        hands both the same image and boxes); the fallback answers the boxes without one."""
        if self._last is None or self._last[0] is not image or self._last[1] is not boxes:
            self._last = image, boxes, self.people(image[0], boxes)
        return self._last[2]

    def needs_motion(self, image: Any, boxes: np.ndarray) -> bool:
        """Only the fallback uses motion, and only for boxes where the detector sees nobody."""
        if self._fallback is None or not self._fallback.needs_motion(image[1], boxes):
            return False
        return any(p is None for p in self._people(image, boxes))

    def find(self, frame: np.ndarray, box: np.ndarray) -> Person | None:
        """The landmark model's view of the person in ``box``; None when the detector sees nobody."""
        found = self._find(frame, box)
        return None if found is None else found[0]

    def _find(
        self, frame: np.ndarray, box: np.ndarray, others: Sequence[np.ndarray] = ()
    ) -> tuple[Person, np.ndarray] | None:
        """``find``, with the person's mask (made once, to judge the person and to answer).

        The box's crop is turned by each of ``TURNS`` in order until the pose detector finds a
        person on it (it finds faces, and gives the body's exact tilt: the landmark model's own
        presence is no judge, it sees a person in a plain block); the landmark model then looks
        at the body crop that detection defines, refined ``refine`` times from its own body points.
        A body nearer one of ``others`` (the centres of the other athletes' boxes) is theirs.
        """
        detector = self.models[0]
        centre = center(box)
        for angle in TURNS:
            found = [
                b for b in detector.bodies_in(frame, crop_of_box(box, self.enlarge, angle=angle))
                if all(np.hypot(*(b[0] - centre)) <= np.hypot(*(b[0] - c)) for c in others)
            ]  # fmt: skip
            if not found:
                continue
            # the person the box is on: several can share a crop (a synchronised pair, a crowd)
            hip, top, _ = min(found, key=lambda b: float(np.hypot(*(b[0] - centre))))
            person = self._refined(frame, body_crop(hip, top))
            mask = person_mask(person, *frame.shape[:2], threshold=self.threshold)
            if self._fits(mask, box):
                return person, mask
        return None

    def _fits(self, mask: np.ndarray, box: np.ndarray) -> bool:
        """Whether a mask is the box's person: most of it (``min_inside``) within the box grown by
        ``enlarge``, and not a sliver of it (a face found in a crowd beside a small athlete)."""
        area = int(mask.sum())
        if area < self.min_fill * box_area(box):
            return False
        h, w = mask.shape
        x, y, bw, bh = to_xywh(expand(box, (self.enlarge - 1) / 2), h, w)
        return mask[y : y + bh, x : x + bw].sum() >= self.min_inside * area

    def guess(self, frame: np.ndarray, box: np.ndarray) -> Person:
        """Without a detection: the landmark model on the box's crop at each turn, the most present."""
        views = [self._refined(frame, crop_of_box(box, self.enlarge, angle=angle)) for angle in TURNS]
        return max(views, key=lambda p: p.presence)

    def _refined(self, frame: np.ndarray, crop: Crop) -> Person:
        person = self.models[1].person(frame, crop)
        for _ in range(self.refine):
            again = self.models[1].person(frame, person.next_crop())
            if again.presence < min(person.presence, self.min_presence):
                break
            person = again
        return person

    def _agrees(self, mask: np.ndarray, prior: np.ndarray | None) -> bool:
        """Whether the person mask overlaps the previous mask carried into this frame by at least
        ``min_agreement`` (IoU): a drawn figure the detector half-believes gives a body of another
        shape than the one followed so far. Without a prior (a prompt, a fresh detection) it agrees."""
        if not self.min_agreement or prior is None or not prior.any():
            return True
        union = int((mask | prior).sum())
        return union > 0 and int((mask & prior).sum()) >= self.min_agreement * union

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
        for i, found in enumerate(self._people(image, boxes)):
            person, mask = (None, None) if found is None else found
            if mask is not None and self._fallback is not None and not self._agrees(mask, priors[i]):
                person = None
            if person is None and self._fallback is not None:
                out.append(None)
                unseen.append(i)
                continue
            if person is not None and self.seed_fallback is not None:
                prob, (x0, y0, x1, y1) = crop_person(person, h, w)
                full = np.zeros((h, w), np.float32)
                full[y0:y1, x0:x1] = prob
                cut = self._fallback.seeded(frame, boxes[i], full, self.seed_fallback, seed)
                out.append(Segmentation(cut.mask, person.presence))
                continue
            if person is None:
                person = self.guess(frame, boxes[i])
                mask = person_mask(person, h, w, threshold=self.threshold)
            out.append(Segmentation(mask, person.presence))
        if unseen:
            looks = [appearance[i] for i in unseen] if appearance is not None else None
            answers = self._fallback.segment(
                state, boxes[unseen], [priors[i] for i in unseen], seed, motion, looks
            )
            for i, answer in zip(unseen, answers, strict=True):
                out[i] = answer
        return [s for s in out if s is not None]
