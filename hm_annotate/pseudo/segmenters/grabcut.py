"""GrabCut from a box: the weight-free segmenter for CPUs and demos.

Per object, GrabCut runs on a crop around the box. Outside the box (grown by ``margin`` of its
side, or of its mean side when that is larger: a diver turning out of a flat box needs room in the
short direction) is certain background. Inside, the initial labels come from colour: the pipeline
hands over a fine colour histogram of the athlete learned from the masks accepted so far in the video
(``appearance``; see ``colours``), which is set against the colours of the crop away from the
previous mask, and each pixel starts as foreground or background as the odds say, certain beyond
``sure`` either way. GrabCut's own five-component colour models cannot keep a thin athlete
apart from a crowd of every colour; seeded this way it only settles the ambiguous pixels. With
no model yet (a prompt box, a fresh detection) one is learned from the box itself: all of it at
first, then what GrabCut kept, ``bootstrap`` times over. Broadcast cameras follow the athlete
across a static venue, so the frame's difference from its camera-compensated background
(``motion``) marks what did not move: such pixels cannot be certain foreground, and away from
the previous mask they are certain background (only while the athlete visibly moves and the
camera motion was compensated; a standing athlete is left to colour alone). Inside the previous
mask, still pixels keep what colour says: a diver swinging the arms on the board moves only
the arms, and demoting the rest lost the head and legs within a few frames. The result is
cleaned with a morphological opening and closing, and only the connected components that
overlap the box and are large enough next to the largest one are kept (limbs can come apart
from the body, specks of similar colour should not stay).

The score is how confidently the two colour models GrabCut fitted separate the pixels it had
to decide: the mean posterior of each pixel's chosen label, 0.5 for a coin toss, 1 for certain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from hm_annotate.pseudo import boxes, colours
from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter

_COMPONENTS = 5  # GrabCut's GMMs have five components: 5 weights, 5x3 means, 5x3x3 covariances


def _gmm_likelihood(model: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Density of N x 3 float pixels under one of GrabCut's packed 1 x 65 colour models."""
    flat = model.ravel()
    weights = flat[:_COMPONENTS]
    means = flat[_COMPONENTS : 4 * _COMPONENTS].reshape(_COMPONENTS, 3)
    covs = flat[4 * _COMPONENTS :].reshape(_COMPONENTS, 3, 3) + np.eye(3) * 1e-2
    inv = np.linalg.inv(covs)
    det = np.clip(np.linalg.det(covs), 1e-12, None)
    diff = pixels[:, None, :] - means[None]  # N x K x 3
    maha = np.einsum("nki,kij,nkj->nk", diff, inv, diff)
    dens = np.exp(-0.5 * np.clip(maha, 0, 700)) / np.sqrt((2 * np.pi) ** 3 * det)
    return dens @ weights


class GrabCutSegmenter(Segmenter):
    """OpenCV GrabCut initialised from the box and the previous mask."""

    name = "grabcut"
    uses_appearance = True

    def __init__(
        self,
        iterations: int = 4,
        margin: float = 0.25,
        context: float = 0.5,
        core_erode: float = 0.08,
        cleanup: float = 0.03,
        keep_ratio: float = 0.15,
        motion_step: int = 3,
        still_below: float = 8.0,
        moving_above: float = 25.0,
        sure: float = 0.9,
        bootstrap: int = 3,
    ) -> None:
        if not 0 <= margin < context:
            raise ValueError(
                f"GrabCut needs 0 <= margin < context (background around the box), got {margin}, {context}"
            )
        self.motion_step = motion_step
        self.motion_offsets = tuple(motion_step * k for k in (-3, -2, -1, 1, 2, 3)) if motion_step else ()
        self.still_below = still_below
        self.moving_above = moving_above
        self.iterations = iterations
        self.margin = margin
        self.context = context
        self.core_erode = core_erode
        self.cleanup = cleanup
        self.keep_ratio = keep_ratio
        self.sure = sure
        self.bootstrap = bootstrap

    def describe(self) -> dict[str, Any]:
        return {
            "segmenter": self.name,
            "iterations": self.iterations,
            "margin": self.margin,
            "context": self.context,
            "core_erode": self.core_erode,
            "cleanup": self.cleanup,
            "keep_ratio": self.keep_ratio,
            "motion_step": self.motion_step,
            "still_below": self.still_below,
            "moving_above": self.moving_above,
            "sure": self.sure,
            "bootstrap": self.bootstrap,
        }

    def segment(
        self,
        image: np.ndarray,
        boxes_: np.ndarray,
        priors: Sequence[np.ndarray | None],
        seed: int,
        motion: np.ndarray | None = None,
        appearance: Sequence[np.ndarray | None] | None = None,
    ) -> list[Segmentation]:
        models = appearance if appearance is not None else [None] * len(boxes_)
        return [
            self._one(image, np.asarray(b, np.float64), p, seed, motion, m)
            for b, p, m in zip(boxes_, priors, models, strict=True)
        ]

    def _labels(
        self,
        box: np.ndarray,
        prior: np.ndarray | None,
        shape: tuple[int, int],
        motion: np.ndarray | None = None,
        odds: np.ndarray | None = None,
    ) -> np.ndarray:
        """GrabCut's initial labels in crop coordinates (``box`` is already crop-relative).

        Outside the box (grown by ``margin``, unless that leaves too little background to learn
        its colours from): background. Inside: probable foreground, as in GrabCut's rectangle
        mode, or, given the colour ``odds`` (P(athlete | colour) per pixel), foreground or
        background as the odds say, certain beyond ``sure`` either way. Without odds but with a
        prior, the box away from the prior (beyond a band of ``core_erode`` of the box size)
        becomes probable background and the prior's eroded core certain foreground. Where the
        background difference says a pixel is still (see ``_still``): inside the prior it keeps
        its label (a diver swinging the arms on the board moves only the arms), outside it is at
        most probable background and, away from it, certain background: the static venue around
        a moving athlete stops leaking in.
        """
        labels = np.full(shape, cv2.GC_BGD, np.uint8)
        inside = self._inside(box, shape, self.margin)
        labels[inside] = cv2.GC_PR_FGD
        still = self._still(motion, inside)
        has_prior = prior is not None and bool((prior & inside).any())
        near = self._near(prior, box) if has_prior else None
        if odds is not None:
            labels[inside & (odds <= 0.5)] = cv2.GC_PR_BGD
            labels[inside & (odds > self.sure)] = cv2.GC_FGD
            labels[inside & (odds < 1.0 - self.sure)] = cv2.GC_BGD
        elif has_prior:
            k = max(1, round(self.core_erode * min(box[2] - box[0], box[3] - box[1])))
            core = cv2.erode(prior.astype(np.uint8), _disk(k)).astype(bool)
            labels[inside & ~near] = cv2.GC_PR_BGD
            labels[inside & core & (True if still is None else ~still)] = cv2.GC_FGD
        if still is not None:
            demote = inside & still & (labels != cv2.GC_BGD)
            if has_prior:
                demote &= ~prior
            labels[demote] = cv2.GC_PR_BGD
            if has_prior:
                labels[inside & still & ~near] = cv2.GC_BGD
        return labels

    @staticmethod
    def _inside(box: np.ndarray, shape: tuple[int, int], margin: float) -> np.ndarray:
        """The box grown by ``margin`` (see ``boxes.pad``): where the athlete may be."""
        ch, cw = shape
        ox, oy, ow, oh = boxes.to_xywh(boxes.pad(box, margin), ch, cw)
        if ch * cw - ow * oh < 0.1 * ch * cw:  # a box filling the frame: keep some background to learn from
            ox, oy, ow, oh = boxes.to_xywh(box, ch, cw)
        inside = np.zeros(shape, bool)
        inside[oy : oy + oh, ox : ox + ow] = True
        return inside

    def _near(self, prior: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The prior grown by a band of ``core_erode`` of the box size: where the athlete may have moved."""
        k = max(1, round(self.core_erode * min(box[2] - box[0], box[3] - box[1])))
        return cv2.dilate(prior.astype(np.uint8), _disk(k)).astype(bool)

    def _still(self, motion: np.ndarray | None, inside: np.ndarray) -> np.ndarray | None:
        """Pixels that match the camera-compensated background, when that cue can be trusted here:
        the camera motion was compensated (little moves outside the box) and the athlete moves
        (much moves inside it). A still athlete, or a failed alignment, gives None."""
        if motion is None:
            return None
        moving = motion > self.moving_above
        if not (~inside).any() or moving[~inside].mean() > 0.05 or moving[inside].mean() < 0.1:
            return None
        return motion < self.still_below

    def _clean(self, fg: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Opening + closing, then the components that overlap the box and are not specks."""
        k = max(1, round(self.cleanup * min(box[2] - box[0], box[3] - box[1])))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)
        m = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, kernel)
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if n <= 1:
            return m.astype(bool)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        inside = np.bincount(labels[max(y0, 0) : y1, max(x0, 0) : x1].ravel(), minlength=n)
        sizes = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
        sizes[0] = 0
        candidates = np.flatnonzero(inside[1:] > 0) + 1
        if candidates.size == 0:
            return np.zeros_like(fg, dtype=bool)
        largest = sizes[candidates].max()
        keep = candidates[sizes[candidates] >= self.keep_ratio * largest]
        return np.isin(labels, keep)

    def _score(
        self, crop: np.ndarray, decided: np.ndarray, fg: np.ndarray, bgd: np.ndarray, fgd: np.ndarray
    ) -> float:
        pixels = crop[decided].astype(np.float64)
        if pixels.size == 0:
            return float("nan")
        p_fg = _gmm_likelihood(fgd, pixels)
        p_bg = _gmm_likelihood(bgd, pixels)
        post_fg = p_fg / np.clip(p_fg + p_bg, 1e-300, None)
        chosen = np.where(fg[decided], post_fg, 1.0 - post_fg)
        return float(chosen.mean())

    def seeded(
        self, rgb: np.ndarray, box: np.ndarray, probability: np.ndarray, sure: float, seed: int
    ) -> Segmentation:
        """GrabCut seeded from another model's foreground ``probability`` (H x W, 0-1), not the box.

        Where that model is confident (``sure`` or more; not eroded: thin limbs are where GrabCut
        loses most) the pixel is certain foreground; the rest of its mask is probable foreground, a band of
        ``core_erode`` around the mask probable background, and everything farther certain
        background. Colour then settles only the mask's edge: the prior keeps GrabCut from leaking
        into the venue, GrabCut fits the prior's soft outline to the athlete's colours.
        """
        h, w = rgb.shape[:2]
        box = boxes.clip(np.asarray(box, np.float64), h, w)
        mask = probability > 0.5
        if _too_small(box) or not mask.any():
            return Segmentation(np.zeros((h, w), bool), float("nan"))
        reach = boxes.of_mask(mask)
        reach = np.concatenate([np.minimum(reach[:2], box[:2]), np.maximum(reach[2:], box[2:])])
        window = _Window(rgb, box, reach, self.context)
        local_mask = window.cut(mask)
        core = window.cut(probability) >= sure
        gc = np.full(local_mask.shape, cv2.GC_BGD, np.uint8)
        gc[self._near(local_mask, window.box)] = cv2.GC_PR_BGD
        gc[local_mask] = cv2.GC_PR_FGD
        gc[core] = cv2.GC_FGD
        decided = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_PR_BGD)
        if not core.any() or (gc != cv2.GC_BGD).all():  # GrabCut needs both kinds of samples
            return Segmentation(window.paste(local_mask), float("nan"))
        fg, bgd, fgd = self._grabcut(window.bgr, gc, seed)
        return self._finish(window, decided, fg, bgd, fgd)

    def _grabcut(
        self, bgr: np.ndarray, labels: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GrabCut from ``labels`` (changed in place) with a fixed seed: the foreground and the
        background and foreground colour models it fitted."""
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(seed)
        cv2.grabCut(bgr, labels, None, bgd, fgd, self.iterations, cv2.GC_INIT_WITH_MASK)
        return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), bgd, fgd

    def _finish(
        self, window: _Window, decided: np.ndarray, fg: np.ndarray, bgd: np.ndarray, fgd: np.ndarray
    ) -> Segmentation:
        """The cleaned foreground at full size, scored where GrabCut had to decide."""
        score = (
            self._score(window.bgr, decided, fg, bgd, fgd) if decided.any() and fgd.any() else float("nan")
        )
        return Segmentation(window.paste(self._clean(fg, window.box)), score)

    def _one(
        self,
        rgb: np.ndarray,
        box: np.ndarray,
        prior: np.ndarray | None,
        seed: int,
        motion: np.ndarray | None,
        model: np.ndarray | None,
    ) -> Segmentation:
        h, w = rgb.shape[:2]
        box = boxes.clip(box, h, w)
        if _too_small(box):
            return Segmentation(np.zeros((h, w), bool), float("nan"))
        window = _Window(rgb, box, box, self.context)
        local, (ch, cw) = window.box, window.bgr.shape[:2]
        local_prior = None if prior is None else window.cut(prior)
        if local_prior is not None and not local_prior.any():
            local_prior = None
        local_motion = None if motion is None else window.cut(motion)
        index = colours.cells(window.cut(rgb))
        # the background's colours: the crop away from where the athlete is or may be
        if local_prior is not None:
            away = ~self._near(local_prior, local)
        else:
            away = ~self._inside(local, (ch, cw), self.margin)
        background = colours.histogram(index[away])
        # without a model of the athlete, learn one from this box: start from all of it, then
        # from what GrabCut keeps, a few times over
        rounds = 1 if model is not None else max(1, self.bootstrap)
        if model is None and background is not None:
            start = ~away if local_prior is not None else self._inside(local, (ch, cw), 0.0)
            model = colours.histogram(index[start])
        fg = np.zeros((ch, cw), bool)
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        decided = np.zeros((ch, cw), bool)
        for _ in range(rounds):
            odds = None
            if model is not None and background is not None:
                odds = colours.posterior(index, model, background)
            gc = self._labels(local, local_prior, (ch, cw), local_motion, odds)
            decided = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_PR_BGD)
            is_bg = (gc == cv2.GC_BGD) | (gc == cv2.GC_PR_BGD)
            if is_bg.all() or not is_bg.any():  # GrabCut needs both kinds of samples
                return Segmentation(np.zeros((h, w), bool), float("nan"))
            if decided.any():
                fg, bgd, fgd = self._grabcut(window.bgr, gc, seed)
            else:
                fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
            if not fg.any():
                break
            model = colours.histogram(index[fg])
        return self._finish(window, decided, fg, bgd, fgd)


class _Window:
    """The crop GrabCut works in: ``region`` grown by ``context`` (clipped to the frame), the
    frame's pixels there in BGR (GrabCut's order), and ``box`` in crop coordinates."""

    def __init__(self, rgb: np.ndarray, box: np.ndarray, region: np.ndarray, context: float) -> None:
        self.shape = rgb.shape[:2]
        x, y, w, h = boxes.to_xywh(boxes.pad(region, context), *self.shape)
        self.rows, self.cols = slice(y, y + h), slice(x, x + w)
        self.bgr = np.ascontiguousarray(rgb[self.rows, self.cols, ::-1])
        self.box = box - np.array([x, y, x, y])

    def cut(self, image: np.ndarray) -> np.ndarray:
        """``image`` (frame-sized) within the crop."""
        return image[self.rows, self.cols]

    def paste(self, mask: np.ndarray) -> np.ndarray:
        """A crop-sized mask at full frame size (nothing outside the crop)."""
        out = np.zeros(self.shape, bool)
        out[self.rows, self.cols] = mask
        return out


def _too_small(box: np.ndarray) -> bool:
    """A clipped box too thin for GrabCut to learn anything from."""
    return box[2] - box[0] < 2 or box[3] - box[1] < 2


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
