"""The pseudo-label loop: for every video, prompts -> tracker -> segmenter -> one store commit.

Per frame and per athlete, the box comes from (in this order) a prompt on that frame, the
tracker, a detection when the target was lost, or the last good box held in place. The
segmenter turns boxes into masks; the trackers get the masks back to re-anchor. A target is lost
when the tracker says so, its confidence drops, its box leaves the frame, or its mask collapses
(area far under the recent median, or empty). Frames are decoded and pushed through the
segmenter's image encoder ``batch_size`` at a time, ``prefetch`` batches ahead of the loop on a
worker thread (with their motion cue), and RLE encoding and store commits run behind it on
another (``prefetch``); neither changes a mask.

Labelling starts at the video's first prompted frame and runs to the end, then afresh from that
frame back to the first. Without prompts, a detector scan (``anchors``) picks the start: the frame
where the athletes, followed over the whole clip, stand out most; its boxes act as prompts.

A video is committed with one store ``put`` when all its frames are done, so a killed run loses
only the video in flight and ``resume`` skips what is committed. Every video starts from fresh
state and seeds derived from (seed, video id, frame), so a resumed or sharded run gives the same
masks as one uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.pseudo import anchors, boxes
from hm_annotate.pseudo import colours as palette
from hm_annotate.pseudo.config import LossRules, PipelineConfig
from hm_annotate.pseudo.detectors import DETECTORS, Background, Detector, VideoBackground
from hm_annotate.pseudo.prefetch import Ahead, Behind
from hm_annotate.pseudo.prompts import Prompts, load_prompts
from hm_annotate.pseudo.quality import frame_flags
from hm_annotate.pseudo.runaway import RunawayGuard
from hm_annotate.pseudo.segmenters import SEGMENTERS, Segmenter
from hm_annotate.pseudo.trackers import TRACKERS, Tracker
from hm_annotate.store import LayerData, MaskStore

MOVING = 25.0  # difference from the camera-compensated background (0-255) that is motion
MIN_MOVING = 0.05  # share of a detected box that must move for its motion to be a prior
MAX_JUMP = 4.0  # box diagonals beyond which a detection is not the lost athlete, however long lost
MAX_SIZE_CHANGE = 3.0  # box area ratio beyond which a detection is not the lost athlete
ESTABLISHED = 5  # accepted masks after which a target's size is known
STAGES = ("decode", "encoder", "tracking", "detection", "motion", "segmenter", "rle", "store")
LAYER = "pseudo"


class VideoFailed(HMError):
    """A video that could not be labelled (an unreadable frame); the run goes on without it."""


class PipelineError(HMError):
    """A run that cannot start as asked (e.g. masks already in the store without --resume)."""


@dataclass
class Timings:
    """Wall time per stage, to see where a run spends it (printed by the CLI and the benchmark).
    Stages on worker threads overlap the loop, so the shares can add up to more than 100%."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    wall: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - start

    def summary(self) -> str:
        total = self.wall or sum(self.seconds.values()) or 1e-9
        rate = self.frames / total
        parts = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in self.seconds.items() if v > 0)
        return f"{self.frames} frames in {total:.1f} s ({rate:.1f} frames/s): {parts}"


@dataclass
class Components:
    """The plug-ins of one run, built once from a config."""

    config: PipelineConfig
    segmenter: Segmenter
    new_tracker: Callable[[], Tracker]
    detector: Detector | None
    prompts: Prompts | None

    @classmethod
    def build(cls, config: PipelineConfig, prompts: Prompts | None = None) -> Components:
        """Create the plug-ins; ``prompts`` (already loaded and checked) defaults to the config's file."""
        if prompts is None and config.prompts:
            prompts = load_prompts(config.prompts)
        TRACKERS.create(config.tracker.name, **config.tracker.params)  # fail on bad parameters now

        def new_tracker() -> Tracker:
            return TRACKERS.create(config.tracker.name, **config.tracker.params)

        detector = None
        if config.detector is not None:
            detector = DETECTORS.create(config.detector.name, **config.detector.params)
        seg_params = dict(config.segmenter.params)
        if SEGMENTERS.accepts(config.segmenter.name, "device"):
            seg_params.setdefault("device", config.device)
        segmenter = SEGMENTERS.create(config.segmenter.name, **seg_params)
        return cls(config, segmenter, new_tracker, detector, prompts)

    def provenance(self) -> dict[str, Any]:
        """The record stored with every video's masks (time is filled in per video)."""
        seg = self.segmenter.describe()
        tracker = self.new_tracker()
        return {
            "tool": "hm-annotate pseudo-label",
            "tool_version": __version__,
            "segmenter": self.config.segmenter.name,
            "model": seg.get("model"),
            "checkpoint_sha256": seg.get("checkpoint_sha256"),
            "tracker": self.config.tracker.name,
            "prompts": self.prompts.describe() if self.prompts else None,
            "parameters": {
                "pipeline": self.config.name,
                "pipeline_file": self.config.source,
                "segmenter": seg,
                "tracker": tracker.describe(),
                "detector": self.detector.describe() if self.detector else None,
                "batch_size": self.config.batch_size,
                "seed": self.config.seed,
                "objects": self.config.objects,
                "scan_step": self.config.scan_step,
                "loss": self.config.as_dict()["loss"],
            },
        }


def video_seed(seed: int, video_id: str) -> int:
    """A 31-bit seed for one video that does not depend on which videos ran before."""
    digest = hashlib.sha256(f"{seed}:{video_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


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


@dataclass
class _Target:
    """One athlete being followed through a video."""

    object_id: int
    tracker: Tracker | None = None
    box: np.ndarray | None = None  # box of the last accepted mask
    mask: np.ndarray | None = None  # last accepted mask
    areas: deque = field(default_factory=lambda: deque(maxlen=10))
    colours: np.ndarray | None = None  # appearance of the athlete, from prompts and accepted masks
    model: np.ndarray | None = None  # fine colour histogram of the athlete, for the segmenter
    seen: int | None = None  # position of the last accepted mask
    lost: bool = True
    guard: RunawayGuard = field(default_factory=RunawayGuard)  # keeps leaky masks from the tracker


class _VideoLabeller:
    """Labels one video; all state lives here, so every video starts afresh."""

    def __init__(self, video: Video, parts: Components, timings: Timings) -> None:
        self.video = video
        self.parts = parts
        self.rules: LossRules = parts.config.loss
        self.timings = timings
        self.prompts = parts.prompts.for_video(video.id) if parts.prompts else {}
        ids = parts.prompts.object_ids(video.id) if parts.prompts else set()
        count = parts.config.objects or int(video.metadata.get("athletes") or 1)
        self.ids = sorted(ids | set(range(1, count + 1)))
        self.targets = self._fresh_targets()
        self.seed = video_seed(parts.config.seed, video.id)
        self.cache: dict[int, np.ndarray] = {}
        self._backgrounds: dict[tuple[int, tuple[int, ...]], Background] = {}
        self._video_background = VideoBackground(self.read)
        self._found: dict[int, np.ndarray] = {}  # detections by position, made once
        self._diffs: dict[int, tuple[np.ndarray, float]] = {}  # the segmenter's motion cue, from the scan
        self.size: tuple[int, int] | None = None
        self.reacquired: dict[int, bool] = {}
        self.runaway: dict[int, bool] = {}
        self.anchor: anchors.Anchor | None = None
        # the worker thread of ``prefetch`` reads frames and makes motion cues too
        self._frames_lock = threading.Lock()
        self._background_lock = threading.Lock()
        self._behind = Behind(parts.config.prefetch)

    def _fresh_targets(self) -> list[_Target]:
        return [_Target(i, areas=deque(maxlen=self.rules.history)) for i in self.ids]

    # -- frames ---------------------------------------------------------------------------------

    def read(self, position: int) -> np.ndarray:
        """The frame at a position in the video, decoded once while it may still be needed."""
        with self._frames_lock:
            if position in self.cache:
                return self.cache[position]
        n = self.video.frame_numbers[position]
        with self.timings.stage("decode"):
            try:
                frame = self.video.read_frame(n)
            except (HMError, OSError) as exc:
                raise VideoFailed(f"video {self.video.id}: frame {n}: {exc}") from None
        if frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            raise VideoFailed(f"video {self.video.id}: frame {n} is not an H x W x 3 image")
        with self._frames_lock:
            if self.size is None:
                self.size = frame.shape[:2]
            elif frame.shape[:2] != self.size:
                raise VideoFailed(
                    f"video {self.video.id}: frame {n} is {frame.shape[1]}x{frame.shape[0]}, "
                    f"earlier frames {self.size[1]}x{self.size[0]}"
                )
            return self.cache.setdefault(position, frame)

    def _forget(self, lo: int, hi: int) -> None:
        """Drop decoded frames that positions ``lo..hi`` and their neighbours do not need."""
        reach = max((abs(o) for o in self._offsets()), default=0)
        with self._frames_lock:
            for p in [p for p in self.cache if not lo - reach <= p <= hi + reach]:
                del self.cache[p]
        with self._background_lock:
            self._video_background.forget(lo - reach, hi + reach)
            for key in [k for k in self._backgrounds if not lo <= k[0] <= hi]:
                del self._backgrounds[key]

    def _offsets(self) -> tuple[int, ...]:
        return (
            self.parts.detector.offsets if self.parts.detector else ()
        ) + self.parts.segmenter.motion_offsets

    def _background(self, position: int, offsets: tuple[int, ...]) -> Background:
        """``background_difference`` of a frame against the frames at ``offsets``, made once per frame
        however many stages ask for it (and from frames reduced and aligned once per video)."""
        key = (position, offsets)
        n = len(self.video.frame_numbers)
        around = [position + o for o in offsets if 0 <= position + o < n]
        for p in [position, *around]:
            self.read(p)  # decoded outside the motion stage's time
        with self._background_lock:
            if key not in self._backgrounds:
                with self.timings.stage("motion"):
                    self._backgrounds[key] = self._video_background.difference(position, around)
            return self._backgrounds[key]

    def _motion(self, position: int, frame: np.ndarray) -> np.ndarray | None:
        """The frame's difference from its camera-compensated background at full size, for
        segmenters that use it."""
        offsets = self.parts.segmenter.motion_offsets
        if not offsets:
            return None
        if position in self._diffs:
            diff, scale = self._diffs.pop(position)
        else:
            bg = self._background(position, offsets)
            diff, scale = bg.diff, bg.scale
        if scale != 1.0:
            with self.timings.stage("motion"):
                diff = cv2.resize(diff, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
        return diff

    def _moving(self, position: int, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """What moves inside a detected box, as the first prior of a target found there: a box
        drawn around motion also holds venue (a banner of skin colour, the board), and without
        a prior the segmenter would learn the athlete's colours from all of it. None when the
        segmenter has no motion cue or little moves."""
        motion = self._motion(position, frame)
        if motion is None:
            return None
        x, y, w, h = boxes.to_xywh(box, *frame.shape[:2])
        out = np.zeros(frame.shape[:2], bool)
        out[y : y + h, x : x + w] = motion[y : y + h, x : x + w] > MOVING
        return out if out.sum() >= MIN_MOVING * max(w * h, 1) else None

    # -- boxes ----------------------------------------------------------------------------------

    def _start(self, target: _Target, frame: np.ndarray, box: np.ndarray) -> None:
        if target.tracker is None:
            target.tracker = self.parts.new_tracker()
        with self.timings.stage("tracking"):
            target.tracker.start(frame, box)
        target.guard.reset()
        target.lost = False

    def _track(self, target: _Target, frame: np.ndarray) -> tuple[np.ndarray, Any, bool] | None:
        """The tracker's box and prior for this frame and whether to trust it; None when it has none."""
        with self.timings.stage("tracking"):
            track = target.tracker.update(frame)
        h, w = frame.shape[:2]
        if track is None or boxes.inside_fraction(track.box, h, w) < self.rules.min_inside:
            return None
        box = boxes.clip(track.box, h, w)
        prior = track.mask if track.mask is not None else moved(target.mask, target.box, box)
        return box, prior, track.confidence >= self.rules.min_confidence

    def _detect(self, position: int, frame: np.ndarray) -> np.ndarray:
        if position in self._found:
            return self._found[position]
        detector = self.parts.detector
        n = len(self.video.frame_numbers)
        around = [self.read(position + o) for o in detector.offsets if 0 <= position + o < n]
        background = self._background(position, detector.offsets) if detector.uses_background else None
        with self.timings.stage("detection"):
            self._found[position] = detector.detect(frame, around, background)
        return self._found[position]

    def _scan(self) -> anchors.Anchor | None:
        """Detections on every ``scan_step``-th frame of the video, and the anchor they point to."""
        step = self.parts.config.scan_step
        detector = self.parts.detector
        share = detector.uses_background and detector.offsets == self.parts.segmenter.motion_offsets
        found = {}
        for p in range(0, len(self.video.frame_numbers), step):
            found[p] = self._detect(p, self.read(p))
            if share:  # the segmenter will want the same difference on this frame
                bg = self._background(p, detector.offsets)
                self._diffs[p] = bg.diff, bg.scale
            self._forget(p + step, p + step)
        return anchors.choose(found, step, len(self.targets))

    @staticmethod
    def _assign(
        found: np.ndarray, lost: list[_Target], taken: list[np.ndarray], position: int
    ) -> dict[int, np.ndarray]:
        """Detections for lost targets: the nearest to where each was, then the strongest, left to
        right. A target seen ``k`` frames ago is looked for within ``1 + k / 2`` diagonals of its
        last box (at most ``MAX_JUMP``): an athlete does not cross the frame in a frame or two;
        one lost on this frame (seen on the one before) only by a detection touching that box."""
        free = [d[:4] for d in found if all(boxes.iou(d[:4], t) < 0.3 for t in taken)]
        out: dict[int, np.ndarray] = {}
        for target in [t for t in lost if t.box is not None]:
            # an athlete followed for a while does not change size several times over while lost:
            # such a detection is something else (or the athlete merged with the venue in the
            # difference); a target found only just now may have been found in part
            size = max(boxes.area(target.box), 1.0)
            established = len(target.areas) >= ESTABLISHED
            since = abs(position - target.seen) if target.seen is not None else float("inf")
            fits = [
                d for d in free
                if (not established or 1 / MAX_SIZE_CHANGE <= boxes.area(d) / size <= MAX_SIZE_CHANGE)
                and (since > 1 or boxes.iou(d, target.box) > 0)  # lost just now: still about there
            ]
            if not fits:
                continue
            diag = boxes.diagonal(target.box)
            dist = [float(np.hypot(*(boxes.center(d) - boxes.center(target.box)))) for d in fits]
            best = int(
                np.argmax([boxes.iou(d, target.box) + 1 / (1 + dd / diag) for d, dd in zip(fits, dist)])
            )
            if dist[best] <= min(1 + since / 2, MAX_JUMP) * diag:
                out[target.object_id] = fits[best]
                free = [d for d in free if d is not fits[best]]
        fresh = [t for t in lost if t.box is None]
        picked = sorted(free[: len(fresh)], key=lambda b: (b[0], b[1]))
        out.update({t.object_id: b for t, b in zip(fresh, picked)})
        return out

    def _boxes(self, position: int, frame: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, Any], bool]:
        """Box and prior per target for one frame; whether a lost target was started again.

        A lost target keeps its tracker running: when no detection places it, the tracker's
        guess is still the best box, and only a tracker with no guess at all falls back on the
        last good box.
        """
        h, w = frame.shape[:2]
        here = self.prompts.get(self.video.frame_numbers[position], {})
        out: dict[int, np.ndarray] = {}
        priors: dict[int, Any] = {}
        guesses: dict[int, tuple[np.ndarray, Any]] = {}
        for t in self.targets:
            if t.object_id in here:
                out[t.object_id] = boxes.clip(here[t.object_id], h, w)
                detected = self.anchor is not None and position == self.anchor.position
                priors[t.object_id] = self._moving(position, frame, out[t.object_id]) if detected else None
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
        lost = [t for t in self.targets if t.lost and t.object_id not in out]
        if not lost:
            return out, priors, False
        found = {}
        if self.parts.detector is not None:
            found = self._assign(self._detect(position, frame), lost, list(out.values()), position)
        restarted = False
        for t in lost:
            if t.object_id in found:
                box, prior = boxes.clip(found[t.object_id], h, w), None
                if len(t.areas) < ESTABLISHED:  # what was found before was not followed for long
                    t.colours, t.model = None, None
                    t.areas.clear()
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

    # -- masks ----------------------------------------------------------------------------------

    def _accept(
        self, target: _Target, position: int, frame: np.ndarray, mask: np.ndarray, prompted: bool
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
            recent = statistics.median(target.areas) if len(target.areas) >= 3 else 0
            known = target.colours is not None and len(target.areas) >= ESTABLISHED
            if area < self.rules.area_collapse * recent or (
                known and similarity(colours, target.colours) < self.rules.min_similarity
            ):
                target.lost = True
                return False
        if prompted or target.colours is None:
            target.colours = colours
            target.model = None
        else:  # follow slow changes of light and pose
            target.colours = cv2.addWeighted(target.colours, 0.9, colours, 0.1, 0)
        if self.parts.segmenter.uses_appearance:
            target.model = palette.blend(target.model, palette.of_mask(frame, mask), palette.RATE)
        target.mask, target.box = mask, boxes.of_mask(mask)
        target.seen = position
        target.areas.append(area)
        target.lost = False
        with self.timings.stage("tracking"):
            target.tracker.correct(frame, mask)
            target.guard.remember(frame, mask)
        return True

    def _runaway(
        self, target: _Target, position: int, frame: np.ndarray, mask: np.ndarray
    ) -> np.ndarray | None:
        """A mask reaching beyond the target's measured motion, cut to where the target can be
        (the frame is flagged and the mask not handed to the tracker); None for a mask within it."""
        with self.timings.stage("tracking"):
            verdict = target.guard.check(frame, mask)
        if not verdict.runaway:
            return None
        self.runaway[position] = True
        return verdict.cut(mask)

    def _model(self, object_id: int) -> np.ndarray | None:
        return next(t.model for t in self.targets if t.object_id == object_id)

    def _frame(self, position: int, frame: np.ndarray, image: Any) -> tuple[list[np.ndarray], float]:
        cv2.setRNGSeed((self.seed + position) & 0x7FFFFFFF)
        chosen, priors, reacquired = self._boxes(position, frame)
        self.reacquired.setdefault(position, reacquired)
        masks = {t.object_id: np.zeros(frame.shape[:2], bool) for t in self.targets}
        scores: list[float] = []
        ids = sorted(chosen)
        if ids:
            with self.timings.stage("segmenter"):
                wants = self.parts.segmenter.needs_motion(image, np.stack([chosen[i] for i in ids]))
            motion = self._motion(position, frame) if wants else None
            with self.timings.stage("segmenter"):
                result = self.parts.segmenter.segment(
                    image,
                    np.stack([chosen[i] for i in ids]),
                    [priors[i] for i in ids],
                    self.seed + position,
                    motion,
                    [self._model(i) for i in ids],
                )
            here = self.prompts.get(self.video.frame_numbers[position], {})
            for t in self.targets:
                if t.object_id in chosen:
                    seg = result[ids.index(t.object_id)]
                    scores.append(seg.score)
                    cut = None if t.object_id in here else self._runaway(t, position, frame, seg.mask)
                    if cut is not None:
                        masks[t.object_id] = cut
                    elif self._accept(t, position, frame, seg.mask, t.object_id in here):
                        masks[t.object_id] = seg.mask
        finite = [s for s in scores if np.isfinite(s)]
        return [masks[t.object_id] for t in self.targets], float(np.mean(finite)) if finite else float("nan")

    def _start_position(self) -> int:
        """Where labelling starts: the first prompted frame; without prompts, the anchor of a
        detector scan (its boxes then act as this video's prompts); else the first frame."""
        numbers = self.video.frame_numbers
        if self.prompts:
            first = min(self.prompts)
            return next(p for p, n in enumerate(numbers) if n == first)
        if self.parts.detector is None or not self.parts.config.scan_step:
            return 0
        self.anchor = self._scan()
        if self.anchor is None:
            return 0
        left_to_right = sorted(self.anchor.boxes, key=lambda b: (b[0], b[1]))
        self.prompts = {numbers[self.anchor.position]: dict(zip(self.ids, left_to_right))}
        return self.anchor.position

    def _load(self, positions: range) -> tuple[list[np.ndarray], list[Any]]:
        """A batch's frames, through the segmenter's ``prepare``, with their motion cue made
        (on the worker thread when the pipeline prefetches)."""
        frames = [self.read(p) for p in positions]
        with self.timings.stage("encoder"):
            images = self.parts.segmenter.prepare(frames)
        offsets = self.parts.segmenter.motion_offsets
        for p in positions:
            if offsets and p not in self._diffs:
                self._background(p, offsets)
        return frames, images

    def _encode(self, masks: np.ndarray) -> list[dict]:
        with self.timings.stage("rle"):
            return rle.encode_batch(masks)

    def _pass(
        self, order: range, encoded: list[tuple[range, Any]], scores: dict[int, float], bar: Any
    ) -> None:
        """Label the positions of ``order`` in turn, ``batch_size`` frames at a time; each batch's
        masks go to RLE encoding (``encoded``: positions and the pending result)."""
        batch = self.parts.config.batch_size
        depth = self.parts.config.prefetch
        chunks = [order[c : c + batch] for c in range(0, len(order), batch)]
        done = {p for positions, _ in encoded for p in positions}
        with Ahead(self._load, chunks, depth) as ahead:
            for i, (positions, (frames, images)) in enumerate(ahead):
                chunk = []
                for p, frame, image in zip(positions, frames, images, strict=True):
                    masks, score = self._frame(p, frame, image)
                    chunk.append(masks)
                    scores.setdefault(p, score)
                masks = np.stack([m for objs in chunk for m in objs])  # a copy: plug-ins may reuse theirs
                encoded.append((positions, self._behind.submit(self._encode, masks)))
                near = [p for c in chunks[i : i + depth + 1] for p in c]  # this batch and those ahead
                self._forget(min(near), max(near))
                new = [p for p in positions if p not in done]
                done.update(new)
                self.timings.frames += len(new)
                bar.update(len(new))

    def run(self, frame_bar: Any) -> LayerData:
        """Label forwards from the start position to the end, then (afresh) backwards from it to
        the first frame."""
        numbers = self.video.frame_numbers
        n = len(numbers)
        start = self._start_position()
        encoded: list[tuple[range, Any]] = []
        scores: dict[int, float] = {}
        try:
            self._pass(range(start, n), encoded, scores, frame_bar)
            if start > 0:
                self.targets = self._fresh_targets()
                self._pass(range(start, -1, -1), encoded, scores, frame_bar)
        finally:
            self._behind.close()
        k = len(self.targets)
        rles: dict[int, list[dict]] = {}
        for positions, pending in encoded:  # the first result for each position (the start is
            flat = pending.result()  # labelled by both passes)
            for j, p in enumerate(positions):
                rles.setdefault(p, flat[j * k : (j + 1) * k])
        h, w = self.size
        ordered = [rles[p] for p in range(n)]
        with self.timings.stage("rle"):
            quality = frame_flags([rle.union(objs, (h, w)) for objs in ordered], h, w)
        quality["reacquired"] = np.asarray([self.reacquired[p] for p in range(n)], np.float32)
        quality["runaway"] = np.asarray([self.runaway.get(p, False) for p in range(n)], np.float32)
        record = dict(self.parts.provenance(), time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if self.anchor is not None:
            frame = numbers[self.anchor.position]
            record["anchor"] = {
                "frame": int(frame),
                "boxes": [[round(float(v), 1) for v in b] for b in self.prompts[frame].values()],
            }
        return LayerData(
            frames=np.asarray(numbers, np.int64),
            masks=ordered,
            height=h,
            width=w,
            object_ids=[[t.object_id for t in self.targets]] * n,
            scores=np.asarray([scores[p] for p in range(n)], np.float32),
            quality=quality,
            provenance=[record],
        )


def label_video(
    video: Video, parts: Components, timings: Timings | None = None, frame_bar: Any = None
) -> LayerData:
    """Pseudo masks for every frame of one video (raises VideoFailed on an unreadable frame)."""
    from tqdm import tqdm

    if not video.frame_numbers:
        raise VideoFailed(f"video {video.id}: has no frames")
    timings = timings if timings is not None else Timings()
    bar = frame_bar if frame_bar is not None else tqdm(total=0, disable=True)
    return _VideoLabeller(video, parts, timings).run(bar)


@dataclass
class RunReport:
    """What a run did: videos labelled, skipped as already done, failed (with the reason)."""

    labelled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


def run(
    videos: Sequence[Video],
    out: str | Path,
    parts: Components,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    on_failure: Callable[[str, str], None] | None = None,
) -> RunReport:
    """Label ``videos`` into the ``pseudo`` layer of store ``out``, one commit per video.

    A video that fails (an unreadable frame) is left out, reported to ``on_failure(video_id,
    message)`` at once and listed in the report; the others go on. Each video is committed on a
    worker thread while the next one is labelled (``prefetch`` > 0); the run returns once every
    commit is done.
    """
    from tqdm import tqdm

    if resume and overwrite:
        raise PipelineError("--resume keeps finished videos and --overwrite redoes them: choose one")
    report = RunReport()
    started = time.perf_counter()
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # same results whatever the machine; parallelism comes from --shard
    try:
        with MaskStore.open(out, mode="a") as store:
            done = [v.id for v in videos if store.has(v.id, LAYER)]
            if done and not (resume or overwrite):
                raise PipelineError(
                    f"{out} already has pseudo masks for {len(done)} of these videos (first: {done[0]}); "
                    "pass --resume to finish the others or --overwrite to redo them"
                )
            todo = [v for v in videos if not (resume and v.id in set(done))]
            report.skipped = [v.id for v in videos if resume and v.id in set(done)]
            disable = None if progress else True
            committer = Behind(parts.config.prefetch, limit=1)
            commits: deque[tuple[str, Any]] = deque()

            def commit(video: Video, data: LayerData) -> None:
                with report.timings.stage("store"):
                    store.put(video.id, LAYER, data, metadata=dict(video.metadata))

            def settle(everything: bool) -> None:
                while commits and (everything or commits[0][1].done()):
                    video_id, pending = commits.popleft()
                    pending.result()  # a failed commit stops the run, as it always did
                    report.labelled.append(video_id)

            videos_bar = tqdm(todo, desc="videos", unit="video", disable=disable, position=0)
            with contextlib.closing(committer), videos_bar as bar:
                for video in bar:
                    frames = tqdm(
                        total=len(video.frame_numbers), desc=video.id, unit="frame", leave=False,
                        disable=disable, position=1,
                    )  # fmt: skip
                    try:
                        data = label_video(video, parts, report.timings, frames)
                    except VideoFailed as exc:
                        report.failed.append((video.id, str(exc)))
                        if on_failure is not None:
                            on_failure(video.id, str(exc))
                        continue
                    finally:
                        frames.close()
                    commits.append((video.id, committer.submit(commit, video, data)))
                    settle(everything=False)
            settle(everything=True)
    finally:
        cv2.setNumThreads(threads)
        report.timings.wall = time.perf_counter() - started
    return report
