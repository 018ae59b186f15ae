from __future__ import annotations

import cv2
import numpy as np
import pytest

from hm_annotate.pseudo import frames
from hm_annotate.pseudo.frames import MISSING, VideoFailed, VideoFrames, _median, align, background_difference
from hm_annotate.pseudo.timings import Timings
from tests.pseudo.scenes import scene


def around(video, i: int, offsets) -> list[np.ndarray]:
    n = len(video.frame_numbers)
    return [video.read_frame(video.frame_numbers[i + o]) for o in offsets if 0 <= i + o < n]


def test_align_recovers_a_pan():
    video, _ = scene(frames=8, pan=2.0, athletes=1)
    a = cv2.cvtColor(video.read_frame(video.frame_numbers[0]), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(video.read_frame(video.frame_numbers[3]), cv2.COLOR_RGB2GRAY)
    hom = align(a, b)
    assert abs(hom[0, 2] - (-6.0)) < 0.5 and abs(hom[1, 2]) < 0.5


def test_background_difference_shows_the_whole_moving_body_and_not_the_pan():
    video, gt = scene(frames=40, pan=2.0)
    i = 20
    offsets = (-9, -6, -3, 3, 6, 9)
    bg = background_difference(video.read_frame(video.frame_numbers[i]), around(video, i, offsets))
    diff, scale = bg.diff, bg.scale
    assert scale == 1.0 and diff.shape == gt[i].shape and diff.dtype == np.float32
    body = gt[i].astype(bool)
    far = ~cv2.dilate(gt[i], np.ones((15, 15), np.uint8)).astype(bool)
    assert np.median(diff[body]) > 40  # the inside of the body, not only its edges
    assert np.percentile(diff[far], 99) < 12  # the panned background cancels out
    assert np.median(bg.screen[far]) > 5  # unaligned, the panned background changes everywhere
    empty = background_difference(video.read_frame(video.frame_numbers[i]), [])
    assert not empty.diff.any() and not empty.screen.any()


def test_video_background_reduces_and_aligns_each_frame_once_and_matches_the_one_off(monkeypatch):
    video, gt = scene(frames=40, pan=2.0)
    offsets = (-9, -6, -3, 3, 6, 9)
    calls = []
    real_align = frames.align
    monkeypatch.setattr(frames, "align", lambda a, b: calls.append(1) or real_align(a, b))
    read = lambda p: video.read_frame(video.frame_numbers[p])  # noqa: E731
    forward = frames.VideoBackground(read)
    diffs = {i: forward.difference(i, [i + o for o in offsets]) for i in range(9, 31)}
    pairs = {(min(i, i + o), max(i, i + o)) for i in range(9, 31) for o in offsets}
    assert len(calls) == len(pairs) < 6 * 22  # each pair once, not once per frame that needs it
    backward = frames.VideoBackground(read)
    for i in range(30, 8, -1):  # the same whatever the order the frames are asked for
        np.testing.assert_array_equal(backward.difference(i, [i + o for o in offsets]).diff, diffs[i].diff)
    one_off = background_difference(read(20), around(video, 20, offsets))
    body = gt[20].astype(bool)
    assert np.median(diffs[20].diff[body]) > 40 and np.abs(diffs[20].diff - one_off.diff).mean() < 1.0
    forward.forget(25, 30)
    assert min(forward._reduced) == 25 and all(max(pair) >= 25 for pair in forward._homs)


def test_median_is_the_lower_median_of_the_values_present():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 6):
        stack = rng.integers(0, 256, (n, 7, 9, 3)).astype(np.uint16)
        stack[rng.random((n, 7, 9)) < 0.3] = MISSING
        as_float = np.where(stack == MISSING, np.nan, stack.astype(np.float32))
        covered = np.isfinite(as_float[..., 0]).sum(axis=0)
        middle = np.maximum(covered - 1, 0) // 2
        expected = np.take_along_axis(np.sort(as_float, axis=0), middle[None, ..., None], axis=0)[0]
        got, count = _median(stack)
        np.testing.assert_array_equal(count, covered)
        seen = covered > 0
        np.testing.assert_array_equal(got[seen], expected[seen])
        assert (got[~seen] == MISSING).all()


class Counting:
    """A video that counts its frame reads."""

    def __init__(self, video) -> None:
        self.video, self.reads = video, []
        self.id, self.frame_numbers = video.id, video.frame_numbers

    def read_frame(self, n: int) -> np.ndarray:
        self.reads.append(n)
        return self.video.read_frame(n)


def test_video_frames_decode_once_keep_what_is_within_reach_and_make_each_background_once():
    video = Counting(scene(frames=30, pan=2.0)[0])
    timings = Timings()
    cache = VideoFrames(video, timings, reach=3)
    assert cache.read(10) is cache.read(10) and video.reads == [110]
    assert cache.size == video.video.read_frame(110).shape[:2]
    assert cache.around(1, (-3, -1, 1, 3)) == [0, 2, 4]
    first = cache.background(10, (-3, 3))
    assert cache.background(10, (-3, 3)) is first and sorted(video.reads) == [107, 110, 113]
    np.testing.assert_array_equal(first.diff, frames.VideoBackground(cache.read).difference(10, [7, 13]).diff)
    assert timings.seconds["decode"] > 0 and timings.seconds["motion"] > 0
    cache.forget(20, 25)
    assert cache.cache == {} and cache.background(10, (-3, 3)) is not first


def test_video_frames_refuse_a_frame_of_another_size_naming_video_and_frame():
    video, _ = scene(frames=4)
    small = Counting(video)
    small.read_frame = lambda n: video.read_frame(n)[:-2] if n == 102 else video.read_frame(n)
    cache = VideoFrames(small, Timings(), reach=0)
    cache.read(0)
    with pytest.raises(VideoFailed, match=r"video v/1: frame 102 is \d+x\d+, earlier frames \d+x\d+"):
        cache.read(2)
