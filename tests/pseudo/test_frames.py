from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from hm_annotate.pseudo import frames
from hm_annotate.pseudo.frames import (
    VideoFailed,
    VideoFrames,
    _difference,
    _largest_difference,
    _median,
    _reduce,
    align,
    background_difference,
)
from hm_annotate.pseudo.timings import Timings
from tests.datasets.fixtures import CARPHONE
from tests.pseudo.footage import carphone
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
    monkeypatch.setattr(
        frames, "align", lambda a, b, *, found=None: calls.append(1) or real_align(a, b, found=found)
    )
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
    assert min(forward._reduced.keys()) == 25 and len(forward._homs.keys()) == len(pairs)
    aligned = len(calls)
    np.testing.assert_array_equal(forward.difference(12, [i + 12 for i in offsets]).diff, diffs[12].diff)
    assert len(calls) == aligned  # homographies outlive the frames (a backward pass reuses them)


def uncached(frames_: list[np.ndarray], position: int, neighbours: list[int]) -> frames.Background:
    """What ``VideoBackground.difference`` makes, from scratch: every frame reduced and every pair
    aligned (earlier onto later, with its own corners) anew."""
    reduced = {p: _reduce(frames_[p]) for p in [position, *neighbours]}
    homs = []
    for p in neighbours:
        a, b = min(p, position), max(p, position)
        hom = align(reduced[a][1], reduced[b][1])
        homs.append(hom if p == a else np.linalg.inv(hom))
    return _difference(reduced[position][0], [reduced[p][0] for p in neighbours], homs, reduced[position][2])


class Clip:
    """Real frames (carphone) as a video."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images, self.id = images, "carphone"
        self.frame_numbers = tuple(range(len(images)))

    def read_frame(self, n: int) -> np.ndarray:
        return self.images[n]


@pytest.mark.parametrize("threads", [0, 2])
def test_cached_corners_homographies_and_threads_give_the_uncached_backgrounds_on_real_frames(threads):
    images = carphone(40)
    offsets = (-9, -6, -3, 3, 6, 9)
    pool = ThreadPoolExecutor(threads) if threads else None
    cache = VideoFrames(Clip(images), Timings(), reach=9, pool=pool)
    try:
        made = {}
        for lo in (0, 8, 16, 24, 32):  # in batches, forgetting behind as the pipeline does
            batch = range(lo, lo + 8)
            cache.backgrounds(batch, offsets)
            made.update({p: cache.background(p, offsets) for p in batch})
            cache.forget(lo, lo + 16)
        for p in (31, 20, 9, 0):  # a backward pass reuses the homographies
            made[p] = cache.background(p, offsets)
    finally:
        if pool is not None:
            pool.shutdown()
    for p in (0, 5, 9, 20, 31, 39):
        expected = uncached(images, p, cache.around(p, offsets))
        assert made[p].diff.dtype == np.float32 and made[p].scale == expected.scale
        np.testing.assert_array_equal(made[p].diff, expected.diff)
        np.testing.assert_array_equal(made[p].screen, expected.screen)
    assert made[20].diff.max() > 20  # carphone moves: not a trivially empty difference


def test_median_is_the_lower_median_of_the_values_present():
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 6, 7):
        stack = rng.integers(0, 256, (n, 7, 9, 3)).astype(np.uint8)
        stack[..., 0, 0, :] = 255  # a value that ties with the missing ones
        missing = rng.random((n, 7, 9)) < 0.3
        as_float = np.where(missing[..., None], np.nan, stack.astype(np.float32))
        stack[missing] = 255
        covered = (~missing).sum(axis=0).astype(np.uint8)
        middle = np.maximum(covered.astype(int) - 1, 0) // 2
        expected = np.take_along_axis(np.sort(as_float, axis=0), middle[None, ..., None], axis=0)[0]
        got = _median(stack, covered)
        seen = covered > 0
        np.testing.assert_array_equal(got[seen], expected[seen])
        everything = np.sort(stack.astype(np.float32), axis=0)[(n - 1) // 2]
        np.testing.assert_array_equal(_median(stack), everything)  # all present


def test_largest_difference_is_the_float_one():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 256, (2, 5, 6, 3)).astype(np.uint8)
    expected = np.abs(a.astype(np.float32) - b.astype(np.float32)).max(axis=2)
    got = _largest_difference(a, b)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


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
    assert cache.decoded.keys() == [] and cache.background(10, (-3, 3)) is not first


def test_video_frames_refuse_a_frame_of_another_size_naming_video_and_frame():
    video, _ = scene(frames=4)
    small = Counting(video)
    small.read_frame = lambda n: video.read_frame(n)[:-2] if n == 102 else video.read_frame(n)
    cache = VideoFrames(small, Timings(), reach=0)
    cache.read(0)
    with pytest.raises(VideoFailed, match=r"video v/1: frame 102 is \d+x\d+, earlier frames \d+x\d+"):
        cache.read(2)


def test_video_frames_read_a_video_file_from_several_threads_as_one_after_another(tmp_path):
    """A video file has one decoder with a position: the motion threads and the prefetch worker
    must take turns with it (two at once aborted the process in OpenCV)."""
    from hm_annotate.datasets import load_videos

    (tmp_path / "car.mp4").symlink_to(CARPHONE)
    (video,) = load_videos("videos", tmp_path)
    expected = carphone(40)
    order = [p for k in range(8) for p in range(k, 40, 8)]  # out of order: seeks and decodes through
    for _ in range(3):
        cache = VideoFrames(video, Timings(), reach=0)
        with ThreadPoolExecutor(4) as pool:
            got = dict(zip(order, pool.map(cache.read, order)))
        for p in range(40):
            np.testing.assert_array_equal(got[p], expected[p])
