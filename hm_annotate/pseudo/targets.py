"""The athletes followed through one video: where each one is on a frame, and which masks to keep.

Per frame and per athlete, the box comes from (in this order) a prompt on that frame, the
tracker, a detection when the target was lost, or the last good box held in place. A target is
lost when the tracker says so, its confidence drops, its box leaves the frame (``LossRules``), or
its mask collapses (area far under the recent median, or empty) or shows colours that are not the
athlete's. A lost target is matched to a detection near where it was last seen and of about its
size (``TargetRules``); a detected box starts with what moves in it as the segmenter's prior.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo import colours as palette
from hm_annotate.pseudo.config import LossRules, TargetRules
from hm_annotate.pseudo.runaway import RunawayGuard
from hm_annotate.pseudo.timings import Timings
from hm_annotate.pseudo.trackers import Tracker

DEFAULT_RULES = TargetRules()


def moved(mask: np.ndarray | None, old: np.ndarray | None, new: np.ndarray) -> np.ndarray | None:
    """``mask`` shifted by the move of its box's centre (a prior for the segmenter)."""
    if mask is None or old is None:
        return None
    dx, dy = boxes.center(new) - boxes.center(old)
    shift = np.array([[1, 0, dx], [0, 1, dy]], np.float64)
    h, w = mask.shape
    return cv2.warpAffine(mask.astype(np.uint8), shift, (w, h), flags=cv2.INTER_NEAREST).astype(bool)


def appearance(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Hue-saturation histogram of the masked pixels (L1-normalised), the athlete's colours."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask.astype(np.uint8), [16, 8], [0, 180, 0, 256])
    return cv2.normalize(hist, None, alpha=1.0, norm_type=cv2.NORM_L1)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 for the same colours, 0 for none in common (one minus the Bhattacharyya distance)."""
    return float(1.0 - cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def moving_prior(
    motion: np.ndarray | None, box: np.ndarray, *, rules: TargetRules = DEFAULT_RULES
) -> np.ndarray | None:
    """What moves inside a detected box (``motion``: the frame's full-size difference from its
    camera-compensated background), as the first prior of a target found there: a box drawn
    around motion also holds venue (a banner of skin colour, the board), and without a prior the
    segmenter would learn the athlete's colours from all of it. None when there is no motion cue
    or little moves."""
    if motion is None:
        return None
    x, y, w, h = boxes.to_xywh(box, *motion.shape[:2])
    out = np.zeros(motion.shape[:2], bool)
    out[y : y + h, x : x + w] = motion[y : y + h, x : x + w] > rules.moving
    return out if out.sum() >= rules.min_moving * max(w * h, 1) else None


class Accepted:
    """The last ``limit`` masks a target accepted: each one's pixel area and its box's area."""

    def __init__(self, limit: int = 10, masks: Iterable[tuple[int, float]] = ()) -> None:
        self._recent: deque[tuple[int, float]] = deque(masks, maxlen=limit)

    def add(self, area: int, size: float) -> None:
        self._recent.append((area, size))

    def clear(self) -> None:
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def areas(self) -> list[int]:
        return [area for area, _ in self._recent]

    @property
    def sizes(self) -> list[float]:
        return [size for _, size in self._recent]


@dataclass
class Target:
    """One athlete being followed through a video."""

    object_id: int
    tracker: Tracker | None = None
    box: np.ndarray | None = None  # box of the last accepted mask
    mask: np.ndarray | None = None  # last accepted mask
    accepted: Accepted = field(default_factory=Accepted)
    colours: np.ndarray | None = None  # appearance of the athlete, from prompts and accepted masks
    model: np.ndarray | None = None  # fine colour histogram of the athlete, for the segmenter
    seen: int | None = None  # position of the last accepted mask
    lost: bool = True
    guard: RunawayGuard = field(default_factory=RunawayGuard)  # keeps leaky masks from the tracker


def assign(
    found: np.ndarray,
    lost: list[Target],
    *,
    taken: list[np.ndarray],
    position: int,
    rules: TargetRules = DEFAULT_RULES,
) -> dict[int, np.ndarray]:
    """Detections (``found``, best first) for ``lost`` targets on the frame at ``position``, away
    from the boxes ``taken`` by the others: the nearest to where each was, then the strongest, left to
    right. A target seen ``k`` frames ago is looked for within ``1 + k / 2`` diagonals of its
    last box (at most ``max_jump``): an athlete does not cross the frame in a frame or two;
    one lost on this frame (seen on the one before) only by a detection touching that box."""
    free = [d[:4] for d in found if all(boxes.iou(d[:4], t) < 0.3 for t in taken)]
    out: dict[int, np.ndarray] = {}
    for target in [t for t in lost if t.box is not None]:
        # an athlete followed for a while does not change size several times over while lost:
        # such a detection is something else (or the athlete merged with the venue in the
        # difference); a target found only just now may have been found in part. The size is
        # the median box of the recent masks: the last ones before a loss are often partial
        # (the mask shrank as the tracker slid off), and would refuse the athlete found whole
        sizes = target.accepted.sizes
        size = max(statistics.median(sizes) if sizes else boxes.area(target.box), 1.0)
        established = len(target.accepted) >= rules.established
        since = abs(position - target.seen) if target.seen is not None else float("inf")
        low, high = 1 / rules.max_size_change, rules.max_size_change
        fits = [
            d for d in free
            if (not established or low <= boxes.area(d) / size <= high)
            and (since > 1 or boxes.iou(d, target.box) > 0)  # lost just now: still about there
        ]  # fmt: skip
        if not fits:
            continue
        diag = boxes.diagonal(target.box)
        dist = [float(np.hypot(*(boxes.center(d) - boxes.center(target.box)))) for d in fits]
        best = int(np.argmax([boxes.iou(d, target.box) + 1 / (1 + dd / diag) for d, dd in zip(fits, dist)]))
        if dist[best] <= min(1 + since / 2, rules.max_jump) * diag:
            out[target.object_id] = fits[best]
            free = [d for d in free if d is not fits[best]]
    fresh = [t for t in lost if t.box is None]
    picked = sorted(free[: len(fresh)], key=lambda b: (b[0], b[1]))
    out.update({t.object_id: b for t, b in zip(fresh, picked)})
    return out


@dataclass(eq=False, kw_only=True)
class Targets:
    """The athletes of one video (``ids``, in order) and what is known of each; ``uses_appearance``:
    keep the colour model the segmenter asks for."""

    ids: list[int]
    loss: LossRules
    rules: TargetRules
    new_tracker: Callable[[], Tracker]
    uses_appearance: bool
    timings: Timings
    all: list[Target] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start every target afresh (a new labelling pass)."""
        self.all = [Target(i, accepted=Accepted(self.loss.history)) for i in self.ids]

    def __iter__(self) -> Iterator[Target]:
        return iter(self.all)

    def __len__(self) -> int:
        return len(self.all)

    def model(self, object_id: int) -> np.ndarray | None:
        """The colour model of a target, for the segmenter."""
        return next(t.model for t in self.all if t.object_id == object_id)

    def _start(self, target: Target, frame: np.ndarray, box: np.ndarray) -> None:
        """(Re)start a target's tracker on ``box``."""
        if target.tracker is None:
            target.tracker = self.new_tracker()
        with self.timings.stage("tracking"):
            target.tracker.start(frame, box)
        target.guard.reset()
        target.lost = False

    def _track(self, target: Target, frame: np.ndarray) -> tuple[np.ndarray, Any, bool] | None:
        """The tracker's box and prior for this frame and whether to trust it; None when it has none."""
        with self.timings.stage("tracking"):
            track = target.tracker.update(frame)
        h, w = frame.shape[:2]
        if track is None or boxes.inside_fraction(track.box, h, w) < self.loss.min_inside:
            return None
        box = boxes.clip(track.box, h, w)
        prior = track.mask if track.mask is not None else moved(target.mask, target.box, box)
        return box, prior, track.confidence >= self.loss.min_confidence

    def boxes(
        self,
        position: int,
        frame: np.ndarray,
        *,
        here: dict[int, np.ndarray],
        first_prior: Callable[[np.ndarray], np.ndarray | None] | None = None,
        detect: Callable[[], np.ndarray] | None = None,
    ) -> tuple[dict[int, np.ndarray], dict[int, Any], bool]:
        """Box and prior per target for one frame; whether a lost target was started again.

        ``here``: the prompts of this frame by object id, whose prior is ``first_prior(box)``
        when given (boxes a detector found), else none; ``detect()``: the detector's boxes on this
        frame, when there is a detector. A lost target keeps its tracker running: when no
        detection places it, the tracker's guess is still the best box, and only a tracker with
        no guess at all falls back on the last good box.
        """
        h, w = frame.shape[:2]
        out: dict[int, np.ndarray] = {}
        priors: dict[int, Any] = {}
        guesses: dict[int, tuple[np.ndarray, Any]] = {}
        for t in self.all:
            if t.object_id in here:
                out[t.object_id] = boxes.clip(here[t.object_id], h, w)
                priors[t.object_id] = first_prior(out[t.object_id]) if first_prior else None
                self._start(t, frame, out[t.object_id])
                continue
            if t.tracker is None:
                continue
            tracked = self._track(t, frame)
            if tracked is None or not tracked[2]:
                t.lost = True
            if tracked is not None:
                guesses[t.object_id] = tracked[:2]
            if not t.lost:
                out[t.object_id], priors[t.object_id] = guesses[t.object_id]
        lost = [t for t in self.all if t.lost and t.object_id not in out]
        if not lost:
            return out, priors, False
        found = {}
        if detect is not None:
            found = assign(detect(), lost, taken=list(out.values()), position=position, rules=self.rules)
        restarted = False
        for t in lost:
            if t.object_id in found:
                box, prior = boxes.clip(found[t.object_id], h, w), None
                # what was found before was not followed for long
                if len(t.accepted) < self.rules.established:
                    t.colours, t.model = None, None
                    t.accepted.clear()
            elif t.object_id in guesses:
                out[t.object_id], priors[t.object_id] = guesses[t.object_id]
                continue
            elif t.box is not None:  # nothing better: hold the last good box and look again
                box, prior = t.box, t.mask
            else:
                continue
            out[t.object_id], priors[t.object_id] = box, prior
            self._start(t, frame, box)
            t.lost = True  # until a mask is accepted there
            restarted = True
        return out, priors, restarted

    def accept(
        self, target: Target, mask: np.ndarray, *, frame: np.ndarray, position: int, prompted: bool
    ) -> bool:
        """Keep a healthy mask as the target's reference and say so; a collapsed one, or one whose
        colours are not the athlete's (the tracker slid onto background, or the athlete is gone),
        marks the target lost and is not kept."""
        area = int(mask.sum())
        if area == 0:
            target.lost = True
            return False
        colours = appearance(frame, mask)
        if not prompted:
            recent = statistics.median(target.accepted.areas) if len(target.accepted) >= 3 else 0
            known = target.colours is not None and len(target.accepted) >= self.rules.established
            if area < self.loss.area_collapse * recent or (
                known and similarity(colours, target.colours) < self.loss.min_similarity
            ):
                target.lost = True
                return False
        if prompted or target.colours is None:
            target.colours = colours
            target.model = None
        else:  # follow slow changes of light and pose
            target.colours = cv2.addWeighted(target.colours, 0.9, colours, 0.1, 0)
        if self.uses_appearance:
            target.model = palette.blend(target.model, palette.of_mask(frame, mask), palette.RATE)
        target.mask, target.box = mask, boxes.of_mask(mask)
        target.seen = position
        target.accepted.add(area, boxes.area(target.box))
        target.lost = False
        with self.timings.stage("tracking"):
            target.tracker.correct(frame, mask)
            target.guard.remember(frame, mask)
        return True

    def keep(
        self, position: int, frame: np.ndarray, *, masks: dict[int, np.ndarray], prompted: set[int]
    ) -> tuple[list[np.ndarray], bool]:
        """The mask of each target on this frame from the segmenter's ``masks`` (by object id; the
        targets of ``prompted`` have a prompt here), and whether one ran away: a mask reaching
        beyond the target's measured motion is cut to where the target can be and not handed to
        the tracker; one refused by ``accept`` is left empty."""
        kept = {t.object_id: np.zeros(frame.shape[:2], bool) for t in self.all}
        runaway = False
        for t in self.all:
            if t.object_id not in masks:
                continue
            mask = masks[t.object_id]
            cut = None
            if t.object_id not in prompted:
                with self.timings.stage("tracking"):
                    verdict = t.guard.check(frame, mask)
                if verdict.runaway:
                    cut = verdict.cut(mask)
            if cut is not None:
                kept[t.object_id] = cut
                runaway = True
            elif self.accept(t, mask, frame=frame, position=position, prompted=t.object_id in prompted):
                kept[t.object_id] = mask
        return [kept[t.object_id] for t in self.all], runaway
