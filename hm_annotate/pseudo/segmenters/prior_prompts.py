"""SAM's prompt from the human prior where the tracker is unsure of the athlete.

SAM segments whatever its box holds, so a tracked box that drifts onto the venue or grows with a
leaky mask gives a mask of the venue. The pose prior (the ``pose`` segmenter's ``people``:
BlazePose's detector on each box's crop, turned until it finds a person, then its landmark
model; one person per athlete) is asked for the person of each box. The rule, from what
``Segmenter.segment`` is given:

- the prior sees nobody, or the person is refused (nearer another athlete's box, or a mask shared
  with another box): the tracked box alone (the prior has nothing to add);
- no mask was carried into this frame ("fresh": a user's prompt, a lost target found again by
  the detector; the pipeline carries what moves in the box a detector first places an athlete
  in, so that one is fresh only where little moves): the tracked box, which may be the user's,
  is kept, with points on the person inside it;
- a carried mask and a tracked box whose IoU with the person's box (the box of the landmark
  model's person mask) is below ``min_iou`` ("drift"): SAM gets the person's box and points;
- otherwise (a carried mask, boxes that agree) the tracked box alone, as without the prior.

The points are positive clicks on the body landmarks the person mask covers (nose, shoulders,
elbows, wrists, hips, knees, ankles; a landmark off the mask is hidden or outside the body, and
a click there would ask SAM for the occluder), so SAM takes the whole body rather than a part of
the box. Each prompt records why it was chosen (``Prompt.reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import cv2
import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.pseudo import boxes as box_ops
from hm_annotate.pseudo.pose_models import LANDMARK_SIDE, Person
from hm_annotate.pseudo.segmenters.pose import PoseSegmenter

# BlazePose landmarks that stand for the body: nose, shoulders, elbows, wrists, hips, knees,
# ankles (the face's ten points and the hands' and feet's would crowd the clicks on small parts)
BODY_POINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

T = TypeVar("T")

# how the prompt was chosen: the tracked box alone because the boxes agree ("tracked") or the
# prior saw nobody of this athlete's ("unseen"); points added to the tracked box ("fresh": no
# carried mask) or on the person's box ("drift": a carried mask, the boxes disagree)
Reason = Literal["tracked", "unseen", "fresh", "drift"]

# the pose segmenter's parameters the prior takes, with SAM's defaults: a wider crop than the
# pose segmenter's 1.5, since the prior must find the athlete beside a box that drifted
POSE_DEFAULTS: dict[str, Any] = {
    "enlarge": 2.0,
    "min_score": 0.8,
    "threshold": 0.5,
    "refine": 1,
    "min_inside": 0.8,
    "min_fill": 0.05,
    "min_presence": 0.5,
    "threads": 1,
}

# the parameters that are shares or probabilities
UNIT_RANGE = ("min_iou", "min_score", "threshold", "min_inside", "min_presence")


@dataclass(frozen=True)
class Prompt:
    """What SAM is asked for one box: a box and positive points (0 x 2 when none), frame pixels."""

    box: np.ndarray
    points: np.ndarray
    reason: Reason


def body_points(person: Person, mask: np.ndarray, *, within: np.ndarray | None = None) -> np.ndarray:
    """The ``BODY_POINTS`` of a person in frame pixels (k x 2) that lie on its ``mask`` (H x W
    bool) and, if given, inside the box ``within``."""
    inverse = cv2.invertAffineTransform(person.crop.matrix(LANDMARK_SIDE))
    marks = person.landmarks[list(BODY_POINTS)] @ inverse[:, :2].T + inverse[:, 2]
    h, w = mask.shape
    x0, y0, x1, y1 = (0, 0, w, h) if within is None else within
    cols, rows = np.floor(marks[:, 0]).astype(int), np.floor(marks[:, 1]).astype(int)
    inside = (cols >= max(x0, 0)) & (cols < min(x1, w)) & (rows >= max(y0, 0)) & (rows < min(y1, h))
    on = np.zeros(len(marks), bool)
    on[inside] = mask[rows[inside], cols[inside]]
    return marks[on]


class PriorPrompter:
    """The prompt rule above, with a ``PoseSegmenter`` of its own for the person (its models
    built on first use)."""

    def __init__(self, min_iou: float = 0.5, points: bool = True, **pose: Any) -> None:
        unknown = sorted(set(pose) - set(POSE_DEFAULTS))
        if unknown:
            known = sorted(["min_iou", "points", *POSE_DEFAULTS])
            raise HMError(f"sam: unknown prior parameters {unknown} (known: {known})")
        self.pose_params = {**POSE_DEFAULTS, **pose}
        params = {"min_iou": min_iou, **self.pose_params}
        for name in UNIT_RANGE:
            if not 0 <= params[name] <= 1:
                raise HMError(f"sam: prior {name} must be within 0-1, got {params[name]}")
        for name, least in (("enlarge", 1), ("refine", 0), ("threads", 1), ("min_fill", 0)):
            if params[name] < least:
                raise HMError(f"sam: prior {name} must be at least {least}, got {params[name]}")
        self.min_iou = min_iou
        self.points = points
        self.pose = PoseSegmenter(fallback=None, **self.pose_params)

    def load(self) -> None:
        """Build the pose models now (fails where the pose runtime is not installed)."""
        _ = self.pose.models

    def describe(self) -> dict[str, Any]:
        return {"min_iou": self.min_iou, "points": self.points, **self.pose_params}

    def prompts(
        self, frame: np.ndarray, boxes: np.ndarray, *, carried: Sequence[np.ndarray | None]
    ) -> list[Prompt]:
        """The prompts for a frame's tracked boxes (k x 4) given the masks carried into this frame
        (None where none was), one person per athlete."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        found = self.pose.people(frame, boxes)
        return [self._prompt(b, f, c) for b, f, c in zip(boxes, found, carried, strict=True)]

    def prompt(self, frame: np.ndarray, box: np.ndarray, *, carried: np.ndarray | None) -> Prompt:
        """The prompt for a box that is alone in its frame."""
        return self.prompts(frame, np.asarray(box)[None], carried=[carried])[0]

    def _prompt(
        self, box: np.ndarray, found: tuple[Person, np.ndarray] | None, carried: np.ndarray | None
    ) -> Prompt:
        none = np.zeros((0, 2))
        person_box = None if found is None else box_ops.of_mask(found[1])
        if found is None or person_box is None:  # nobody, refused, or a person of no pixels
            return Prompt(box, none, "unseen")
        person, mask = found
        if carried is None or not carried.any():
            points = body_points(person, mask, within=box) if self.points else none
            return Prompt(box, points, "fresh")
        if box_ops.iou(box, person_box) >= self.min_iou:
            return Prompt(box, none, "tracked")
        return Prompt(person_box, body_points(person, mask) if self.points else none, "drift")


def decode_in_batches(
    prompts: Sequence[Prompt], decode: Callable[[np.ndarray, np.ndarray | None], list[T]]
) -> list[T]:
    """``decode(boxes, points)`` on the prompts, one call per number of points (a decoder batch
    holds as many points per prompt: boxes k x 4, points k x n x 2 or None when n is 0), the
    answers back in the prompts' order. Where every prompt is a box alone, that is one call on
    all of them, as without the prior."""
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p.points), []).append(i)
    out: dict[int, T] = {}
    for n, ids in groups.items():
        points = np.stack([prompts[i].points for i in ids]) if n else None
        out.update(zip(ids, decode(np.stack([prompts[i].box for i in ids]), points), strict=True))
    return [out[i] for i in range(len(prompts))]
