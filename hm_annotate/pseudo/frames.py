"""One video's frames for the pipeline: decoded once, and their camera-compensated background.

Broadcast cameras pan and zoom with the athlete, so frame differences alone light up the whole
background. Neighbouring frames (a few before and after) are first aligned to the current one
with a homography fitted (RANSAC) to corners followed by Lucas-Kanade flow (an ECC translation
when too few corners); their per-pixel median is the background, and the difference from it is
what moves. The motion detector finds athletes in it, segmenters use it as a cue, and a box found
by a detector takes what moves in it as the first prior.

``VideoFrames`` keeps a video's decoded frames and differences while the labelling loop may
still need them. Other threads ask for them too: the prefetch worker (frames of the batches ahead)
and the motion threads (their differences); each is made once whoever asks first, and frames are
decoded one at a time under a lock (a video file's reader is one decoder with a position).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.pseudo.prefetch import Once
from hm_annotate.pseudo.timings import Timings


def corners(gray: np.ndarray) -> np.ndarray | None:
    """The corners ``align`` follows from a gray frame (None when it has none)."""
    return cv2.goodFeaturesToTrack(gray, 400, 0.01, 5)


def align(moving: np.ndarray, fixed: np.ndarray, *, found: np.ndarray | None = None) -> np.ndarray:
    """3 x 3 homography taking ``moving`` onto ``fixed`` (gray images), identity when it cannot tell.

    ``found``: ``corners(moving)`` when the caller already has them (a frame is the moving one
    of several pairs)."""
    pts = corners(moving) if found is None else found
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
    frame: np.ndarray  # the frame at ``scale``
    raw: tuple[np.ndarray, ...]  # the neighbours at ``scale``, unaligned

    @cached_property
    def screen(self) -> np.ndarray:
        if not self.raw:
            return np.zeros(self.diff.shape, np.float32)
        return _largest_difference(self.frame, _median(np.stack(self.raw)))


def _median(stack: np.ndarray, covered: np.ndarray | None = None) -> np.ndarray:
    """Per-pixel (lower) median over the first axis of a uint8 stack, of the ``covered`` values
    present at each pixel (any value where none is); ``covered`` None: every value is present.

    Missing values must be 255: they sort after (or tie with) every value present, so the
    median of the values present is the ``(covered - 1) // 2``-th smallest of them all. Only the
    smallest half of the planes is sorted, by a network of element-wise min/max (many times
    faster than ``np.sort`` along a short strided axis): pass ``j`` moves the smallest of the
    planes from ``j`` on down to ``j``."""
    planes = list(stack)
    last = (len(planes) - 1) // 2  # the deepest plane a median can be
    for j in range(last + 1):
        for i in range(len(planes) - 1, j, -1):
            a, b = planes[i - 1], planes[i]
            planes[i - 1] = np.minimum(a, b)
            if j < last:  # the last pass only needs its minimum
                planes[i] = np.maximum(a, b)
    median = np.array(planes[last])
    if covered is not None:
        middle = (np.maximum(covered, 1) - 1) // 2
        for m in range(last):
            np.copyto(median, planes[m], where=(middle == m)[..., None])
    return median


def _largest_difference(frame: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per pixel, the largest absolute difference between two uint8 colour images over the
    channels, as float32 (in integers: exact, and cheaper than in float)."""
    d = cv2.absdiff(frame, other)
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2]).astype(np.float32)


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
    if not others:
        return Background(np.zeros(cur.shape[:2], np.float32), scale, cur, ())
    size = (cur.shape[1], cur.shape[0])
    stack = np.empty((len(others), *cur.shape), np.uint8)
    covered = np.zeros(cur.shape[:2], np.uint8)
    ones = np.ones(cur.shape[:2], np.uint8)
    for i, (other, hom) in enumerate(zip(others, homs, strict=True)):
        cv2.warpPerspective(other, hom, size, dst=stack[i], flags=cv2.INTER_LINEAR)
        valid = cv2.warpPerspective(ones, hom, size, flags=cv2.INTER_NEAREST)
        stack[i][valid == 0] = 255  # missing (see ``_median``)
        covered += valid
    diff = _largest_difference(cur, _median(stack, covered))
    diff[covered == 0] = 0.0
    return Background(diff, scale, cur, tuple(others))


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
    work once: a frame is reduced (and its corners found) once while it is within reach, and a
    pair of frames is aligned once per video (from the earlier frame onto the later; the other
    way is the inverse), so the result does not depend on the order frames are asked for.
    All homographies are kept, so a detector scan and the passes after it share them: about 350
    bytes each with its key (tracemalloc over 2000 in a ``prefetch.Once``: the 3 x 3 float64
    array is some 200 of them), some 1 KB per frame with 6 neighbours (a pair is shared), 10 MB
    for 10,000 frames. Several threads may ask at once (see ``prefetch.Once``)."""

    def __init__(self, read: Callable[[int], np.ndarray]) -> None:
        self._read = read
        self._reduced: Once[int, tuple[np.ndarray, np.ndarray, float]] = Once()
        self._corners: Once[int, np.ndarray | None] = Once()
        self._homs: Once[tuple[int, int], np.ndarray] = Once()

    def _frame(self, position: int) -> tuple[np.ndarray, np.ndarray, float]:
        return self._reduced.get(position, lambda: _reduce(self._read(position)))

    def _align(self, a: int, b: int) -> np.ndarray:
        gray = self._frame(a)[1]
        return align(gray, self._frame(b)[1], found=self._corners.get(a, lambda: corners(gray)))

    def _onto(self, moving: int, fixed: int) -> np.ndarray:
        a, b = min(moving, fixed), max(moving, fixed)
        hom = self._homs.get((a, b), lambda: self._align(a, b))
        return hom if moving == a else np.linalg.inv(hom)

    def difference(self, position: int, neighbours: Sequence[int]) -> Background:
        """``background_difference`` of the frame at ``position`` against those at ``neighbours``."""
        cur, _, scale = self._frame(position)
        others = [self._frame(p)[0] for p in neighbours]
        return _difference(cur, others, [self._onto(p, position) for p in neighbours], scale)

    def forget(self, lo: int, hi: int) -> None:
        """Drop the reduced frames (and their corners) outside positions ``lo..hi``."""
        self._reduced.forget(lambda p: lo <= p <= hi)
        self._corners.forget(lambda p: lo <= p <= hi)


class VideoFailed(HMError):
    """A video that could not be labelled (an unreadable frame); the run goes on without it."""


class VideoFrames:
    """The frames of one video by position, decoded once while they may still be needed, and
    their ``background_difference`` against neighbouring frames, made once per frame and offsets
    however many stages ask for it. Worker threads read frames and make motion cues too
    (``backgrounds`` spreads them over ``pool``'s threads): everything is made once whoever asks
    first (``prefetch.Once``). ``reach``: how far (in positions) the stages look around a frame."""

    def __init__(
        self, video: Video, timings: Timings, *, reach: int, pool: ThreadPoolExecutor | None = None
    ) -> None:
        self.video = video
        self.timings = timings
        self.reach = reach
        self.pool = pool
        self.size: tuple[int, int] | None = None
        self.decoded: Once[int, np.ndarray] = Once()
        self._backgrounds: Once[tuple[int, tuple[int, ...]], Background] = Once()
        self._video_background = VideoBackground(self.read)
        self._size_lock = threading.Lock()
        # a video file's reader is one decoder with a position (datasets.videos.VideoFileFrames):
        # the motion threads and the prefetch worker take turns with it
        self._decode_lock = threading.Lock()

    def read(self, position: int) -> np.ndarray:
        """The frame at a position in the video, decoded once while it may still be needed."""
        return self.decoded.get(position, lambda: self._decode(position))

    def _decode(self, position: int) -> np.ndarray:
        n = self.video.frame_numbers[position]
        with self.timings.stage("decode"):
            try:
                with self._decode_lock:
                    frame = self.video.read_frame(n)
            except (HMError, OSError) as exc:
                raise VideoFailed(f"video {self.video.id}: frame {n}: {exc}") from None
        if frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            raise VideoFailed(f"video {self.video.id}: frame {n} is not an H x W x 3 image")
        with self._size_lock:
            if self.size is None:
                self.size = frame.shape[:2]
            elif frame.shape[:2] != self.size:
                raise VideoFailed(
                    f"video {self.video.id}: frame {n} is {frame.shape[1]}x{frame.shape[0]}, "
                    f"earlier frames {self.size[1]}x{self.size[0]}"
                )
        return frame

    def forget(self, lo: int, hi: int) -> None:
        """Drop decoded frames that positions ``lo..hi`` and their neighbours do not need."""
        reach = self.reach
        self.decoded.forget(lambda p: lo - reach <= p <= hi + reach)
        self._video_background.forget(lo - reach, hi + reach)
        self._backgrounds.forget(lambda key: lo <= key[0] <= hi)

    def around(self, position: int, offsets: Sequence[int]) -> list[int]:
        """The positions at ``offsets`` from ``position`` that the video has."""
        n = len(self.video.frame_numbers)
        return [position + o for o in offsets if 0 <= position + o < n]

    def background(self, position: int, offsets: tuple[int, ...]) -> Background:
        """``background_difference`` of a frame against the frames at ``offsets``, made once per frame
        however many stages ask for it (and from frames reduced and aligned once per video)."""
        return self._backgrounds.get((position, offsets), lambda: self._background(position, offsets))

    def _background(self, position: int, offsets: tuple[int, ...]) -> Background:
        around = self.around(position, offsets)
        for p in [position, *around]:
            self.read(p)  # decoded outside the motion stage's time
        with self.timings.stage("motion"):
            return self._video_background.difference(position, around)

    def backgrounds(self, positions: Sequence[int], offsets: tuple[int, ...]) -> None:
        """Make the ``background`` of several frames, on the threads of ``pool`` when there is one
        (neighbouring frames are aligned in parallel; each pair still once)."""
        if self.pool is None:
            for p in positions:
                self.background(p, offsets)
            return
        for done in [self.pool.submit(self.background, p, offsets) for p in positions]:
            done.result()
