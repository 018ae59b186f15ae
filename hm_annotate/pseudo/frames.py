"""One video's frames for the pipeline: decoded once, and their camera-compensated background.

Broadcast cameras pan and zoom with the athlete, so frame differences alone light up the whole
background. Neighbouring frames (a few before and after) are first aligned to the current one
with a homography fitted (RANSAC) to corners followed by Lucas-Kanade flow (an ECC translation
when too few corners); their per-pixel median is the background, and the difference from it is
what moves. The motion detector finds athletes in it, segmenters use it as a cue, and a box found
by a detector takes what moves in it as the first prior.

``VideoFrames`` keeps a video's decoded frames and differences while the labelling loop (and the
prefetch worker thread) may still need them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.pseudo.timings import Timings


def align(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """3 x 3 homography taking ``moving`` onto ``fixed`` (gray images), identity when it cannot tell."""
    pts = cv2.goodFeaturesToTrack(moving, 400, 0.01, 5)
    if pts is not None and len(pts) >= 12:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(moving, fixed, pts, None, winSize=(21, 21), maxLevel=3)
        ok = status.ravel() == 1
        if ok.sum() >= 12:
            h, inliers = cv2.findHomography(pts[ok], moved[ok], cv2.RANSAC, 2.0)
            if h is not None and inliers.sum() >= 10:
                return h
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        _, warp = cv2.findTransformECC(fixed, moving, warp, cv2.MOTION_TRANSLATION, criteria, None, 5)
    except cv2.error:
        return np.eye(3)
    # ECC maps fixed -> moving coordinates; invert the translation to move ``moving`` onto ``fixed``
    return np.array([[1, 0, -warp[0, 2]], [0, 1, -warp[1, 2]], [0, 0, 1]], np.float64)


BACKGROUND_SIDE = 320  # background differences are made at this size (longest side, pixels)


@dataclass(frozen=True)
class Background:
    """How a frame differs from its neighbours, at ``scale`` times the frame size.

    ``diff``: from the camera-compensated background (what moved in the world);
    ``screen``: from the neighbours as they are, unaligned (what changed on screen; near zero on
    captions and logos laid over a panning picture, which ``diff`` shows as moving). Only the
    detector needs ``screen``, so it is worked out from ``frame`` and ``raw`` when first asked for.
    """

    diff: np.ndarray
    scale: float
    frame: np.ndarray  # the frame at ``scale``, float32
    raw: np.ndarray  # the neighbours at ``scale``, unaligned, uint16, stacked

    @cached_property
    def screen(self) -> np.ndarray:
        if len(self.raw) == 0:
            return np.zeros(self.diff.shape, np.float32)
        return np.abs(self.frame - _median(self.raw)[0]).max(axis=2)


MISSING = 256  # in a uint16 stack of 8-bit pixels: no value here (sorts after every pixel value)


def _median(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (lower) median over the first axis of a uint16 stack of the values that are not
    ``MISSING``, and how many there were (``MISSING`` where none).

    The few planes are sorted by a network of element-wise min/max, many times faster than
    ``np.sort`` along a short strided axis (and on 16-bit integers, not floats)."""
    covered = (stack[..., 0] != MISSING).sum(axis=0)
    middle = np.maximum(covered - 1, 0) // 2
    planes = list(stack)
    for end in range(len(planes) - 1, 0, -1):  # bubble network: the largest left moves to ``end``
        for i in range(end):
            a, b = planes[i], planes[i + 1]
            planes[i], planes[i + 1] = np.minimum(a, b), np.maximum(a, b)
    return np.choose(middle[..., None], planes), covered


def _reduce(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The frame at background-difference size (largest side at most ``BACKGROUND_SIDE``),
    blurred against noise, its gray version, and the scale."""
    h, w = frame.shape[:2]
    scale = min(1.0, BACKGROUND_SIDE / max(h, w))
    if scale != 1.0:
        frame = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(frame, (5, 5), 0)
    return small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), scale


def _difference(
    cur: np.ndarray, others: Sequence[np.ndarray], homs: Sequence[np.ndarray], scale: float
) -> Background:
    """``Background`` of a reduced frame from reduced neighbours and the homographies taking each
    onto it."""
    size = (cur.shape[1], cur.shape[0])
    cur_f = cur.astype(np.float32)
    if not others:
        zeros = np.zeros(cur.shape[:2], np.float32)
        return Background(zeros, scale, cur_f, np.zeros((0, *cur.shape), np.uint16))
    stack = np.empty((len(others), *cur.shape), np.uint16)
    raw = np.stack(others).astype(np.uint16)
    ones = np.ones(cur.shape[:2], np.uint8)
    for i, (other, hom) in enumerate(zip(others, homs, strict=True)):
        stack[i] = cv2.warpPerspective(other, hom, size, flags=cv2.INTER_LINEAR)
        valid = cv2.warpPerspective(ones, hom, size, flags=cv2.INTER_NEAREST)
        stack[i][valid == 0] = MISSING
    background, covered = _median(stack)
    diff = np.abs(cur_f - background).max(axis=2)
    diff[covered == 0] = 0.0
    return Background(diff, scale, cur_f, raw)


def background_difference(frame: np.ndarray, neighbours: Sequence[np.ndarray]) -> Background:
    """Per-pixel difference from the camera-compensated background (and from the unaligned
    neighbours), at a reduced scale.

    The background is the per-pixel median of the neighbours warped onto this frame: where
    the athlete has moved on, most neighbours show background there, so the whole body stands
    out and not just its moving edges (which is all plain frame differencing sees of a body of
    even colour). Differences are float32 at ``scale`` times the frame size (largest side at
    most ``BACKGROUND_SIDE``); pixels no neighbour covers count as unchanged.
    """
    cur, gray, scale = _reduce(frame)
    others = [_reduce(f) for f in neighbours]
    return _difference(cur, [o[0] for o in others], [align(o[1], gray) for o in others], scale)


class VideoBackground:
    """``background_difference`` for the frames of one video, by position, doing each piece of
    work once: a frame is reduced once however many frames it is a neighbour of, and a pair of
    frames is aligned once (from the earlier frame onto the later; the other way is the inverse),
    so the result does not depend on the order frames are asked for."""

    def __init__(self, read: Callable[[int], np.ndarray]) -> None:
        self._read = read
        self._reduced: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self._homs: dict[tuple[int, int], np.ndarray] = {}

    def _frame(self, position: int) -> tuple[np.ndarray, np.ndarray, float]:
        if position not in self._reduced:
            self._reduced[position] = _reduce(self._read(position))
        return self._reduced[position]

    def _onto(self, moving: int, fixed: int) -> np.ndarray:
        a, b = min(moving, fixed), max(moving, fixed)
        if (a, b) not in self._homs:
            self._homs[(a, b)] = align(self._frame(a)[1], self._frame(b)[1])
        hom = self._homs[(a, b)]
        return hom if moving == a else np.linalg.inv(hom)

    def difference(self, position: int, neighbours: Sequence[int]) -> Background:
        """``background_difference`` of the frame at ``position`` against those at ``neighbours``."""
        cur, _, scale = self._frame(position)
        others = [self._frame(p)[0] for p in neighbours]
        return _difference(cur, others, [self._onto(p, position) for p in neighbours], scale)

    def forget(self, lo: int, hi: int) -> None:
        """Drop what only frames outside positions ``lo..hi`` need."""
        for p in [p for p in self._reduced if not lo <= p <= hi]:
            del self._reduced[p]
        for pair in [k for k in self._homs if not (lo <= k[0] <= hi or lo <= k[1] <= hi)]:
            del self._homs[pair]


class VideoFailed(HMError):
    """A video that could not be labelled (an unreadable frame); the run goes on without it."""


class VideoFrames:
    """The frames of one video by position, decoded once while they may still be needed, and
    their ``background_difference`` against neighbouring frames, made once per frame and offsets
    however many stages ask for it. The prefetch worker thread reads frames and makes motion
    cues too, hence the locks. ``reach``: how far (in positions) the stages look around a frame."""

    def __init__(self, video: Video, timings: Timings, reach: int) -> None:
        self.video = video
        self.timings = timings
        self.reach = reach
        self.size: tuple[int, int] | None = None
        self.cache: dict[int, np.ndarray] = {}
        self._backgrounds: dict[tuple[int, tuple[int, ...]], Background] = {}
        self._video_background = VideoBackground(self.read)
        self._frames_lock = threading.Lock()
        self._background_lock = threading.Lock()

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

    def forget(self, lo: int, hi: int) -> None:
        """Drop decoded frames that positions ``lo..hi`` and their neighbours do not need."""
        reach = self.reach
        with self._frames_lock:
            for p in [p for p in self.cache if not lo - reach <= p <= hi + reach]:
                del self.cache[p]
        with self._background_lock:
            self._video_background.forget(lo - reach, hi + reach)
            for key in [k for k in self._backgrounds if not lo <= k[0] <= hi]:
                del self._backgrounds[key]

    def around(self, position: int, offsets: Sequence[int]) -> list[int]:
        """The positions at ``offsets`` from ``position`` that the video has."""
        n = len(self.video.frame_numbers)
        return [position + o for o in offsets if 0 <= position + o < n]

    def background(self, position: int, offsets: tuple[int, ...]) -> Background:
        """``background_difference`` of a frame against the frames at ``offsets``, made once per frame
        however many stages ask for it (and from frames reduced and aligned once per video)."""
        key = (position, offsets)
        around = self.around(position, offsets)
        for p in [position, *around]:
            self.read(p)  # decoded outside the motion stage's time
        with self._background_lock:
            if key not in self._backgrounds:
                with self.timings.stage("motion"):
                    self._backgrounds[key] = self._video_background.difference(position, around)
            return self._backgrounds[key]
