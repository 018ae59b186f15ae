"""SAM's prompt from the human prior where the tracker is unsure of the athlete.

SAM segments whatever its box holds, so a tracked box that drifts onto the venue or grows with a
leaky mask gives a mask of the venue. Per box, the pose prior (the ``pose`` segmenter's ``find``:
BlazePose's detector on the box's crop, turned until it finds a person, then its landmark model)
is asked for the person there. The rule, from what ``Segmenter.segment`` is given:

- the prior sees nobody: the tracked box alone (the prior has nothing to add);
- the tracked box and the person's box (the box of the landmark model's person mask) overlap by
  less than ``min_iou`` (IoU): the tracker is unsure, SAM gets the person's box and points;
- no mask was carried into this frame (a prompt, a fresh detection, a target found again): the
  tracker is unsure, SAM gets the tracked box and points;
- otherwise (a carried mask, boxes that agree) the tracked box alone, as without the prior.

The points are positive clicks on the body landmarks the person mask covers (nose, shoulders,
elbows, wrists, hips, knees, ankles; a landmark off the mask is hidden or outside the body, and
a click there would ask SAM for the occluder), so SAM takes the whole body rather than a part of
the box. Each prompt records why it was chosen (``Prompt.reason``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.pseudo import boxes as box_ops
from hm_annotate.pseudo.pose_models import LANDMARK_SIDE, Person, crop_person
from hm_annotate.pseudo.segmenters.pose import PoseSegmenter

# BlazePose landmarks that stand for the body: nose, shoulders, elbows, wrists, hips, knees,
# ankles (the face's ten points and the hands' and feet's would crowd the clicks on small parts)
BODY_POINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

# how the prompt was chosen: the tracked box alone because the boxes agree ("tracked") or the
# prior saw nobody ("unseen"); points added to the tracked box ("fresh": no carried mask) or on
# the person's box ("drift": the boxes disagree)
REASONS = ("tracked", "unseen", "fresh", "drift")

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


@dataclass(frozen=True)
class Prompt:
    """What SAM is asked for one box: a box and positive points (0 x 2 when none), frame pixels."""

    box: np.ndarray
    points: np.ndarray
    reason: str


def body_points(
    person: Person, probability: np.ndarray, corner: tuple[int, int], threshold: float
) -> np.ndarray:
    """The ``BODY_POINTS`` of a person in frame pixels (k x 2) that lie on its mask: person
    probability of at least ``threshold`` in ``probability``, the map pasted at ``corner`` (x, y)."""
    inverse = cv2.invertAffineTransform(person.crop.matrix(LANDMARK_SIDE))
    marks = person.landmarks[list(BODY_POINTS)] @ inverse[:, :2].T + inverse[:, 2]
    h, w = probability.shape
    cols = np.floor(marks[:, 0]).astype(int) - corner[0]
    rows = np.floor(marks[:, 1]).astype(int) - corner[1]
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    on = np.zeros(len(marks), bool)
    on[inside] = probability[rows[inside], cols[inside]] >= threshold
    return marks[on]


class PriorPrompter:
    """The prompt rule above, the pose models built on first use (they are shared through the
    composed ``PoseSegmenter``'s ``PriorModels``)."""

    def __init__(self, min_iou: float = 0.5, points: bool = True, **pose: Any) -> None:
        unknown = sorted(set(pose) - set(POSE_DEFAULTS))
        if unknown:
            known = sorted(["min_iou", "points", *POSE_DEFAULTS])
            raise HMError(f"sam: unknown prior parameters {unknown} (known: {known})")
        if not 0 <= min_iou <= 1:
            raise HMError(f"sam: prior min_iou must be within 0-1, got {min_iou}")
        self.min_iou = min_iou
        self.points = points
        self.pose_params = {**POSE_DEFAULTS, **pose}
        self.pose = PoseSegmenter(fallback=None, **self.pose_params)

    def load(self) -> None:
        """Build the pose models now (fails where the pose runtime is not installed)."""
        _ = self.pose.models

    def describe(self) -> dict[str, Any]:
        return {"min_iou": self.min_iou, "points": self.points, **self.pose_params}

    def prompt(self, frame: np.ndarray, box: np.ndarray, carried: np.ndarray | None) -> Prompt:
        """The prompt for one tracked box given the mask carried into this frame (or None)."""
        none = np.zeros((0, 2))
        person = self.pose.find(frame, box)
        if person is None:
            return Prompt(box, none, "unseen")
        prob, (x0, y0, _, _) = crop_person(person, *frame.shape[:2])
        tight = box_ops.of_mask(prob > self.pose.threshold)
        if tight is None:  # a person of no pixels (``min_fill`` 0)
            return Prompt(box, none, "unseen")
        person_box = tight + [x0, y0, x0, y0]
        fresh = carried is None or not carried.any()
        drift = box_ops.iou(box, person_box) < self.min_iou
        if not (fresh or drift):
            return Prompt(box, none, "tracked")
        points = body_points(person, prob, (x0, y0), self.pose.threshold) if self.points else none
        return Prompt(person_box, points, "drift") if drift else Prompt(box, points, "fresh")

    def prompts(
        self, frame: np.ndarray, boxes: np.ndarray, carried: Sequence[np.ndarray | None]
    ) -> list[Prompt]:
        return [self.prompt(frame, np.asarray(b, np.float64), c) for b, c in zip(boxes, carried, strict=True)]


def batches(prompts: Sequence[Prompt]) -> list[tuple[list[int], np.ndarray, np.ndarray | None]]:
    """The prompts as SAM decoder batches: indices, boxes (k x 4) and points (k x n x 2, None
    when n is 0), one batch per number of points (a batch holds as many points per prompt), so a
    box's mask does not depend on the other boxes of its frame."""
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p.points), []).append(i)
    out = []
    for n, ids in groups.items():
        points = np.stack([prompts[i].points for i in ids]) if n else None
        out.append((ids, np.stack([prompts[i].box for i in ids]), points))
    return out
