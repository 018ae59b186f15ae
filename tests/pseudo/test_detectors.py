from __future__ import annotations

import cv2
import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.detectors import DETECTORS, HOGDetector, MotionDetector, align, background_difference
from tests.pseudo.scenes import first_box, scene


def around(video, i: int, offsets) -> list[np.ndarray]:
    n = len(video.frame_numbers)
    return [video.read_frame(video.frame_numbers[i + o]) for o in offsets if 0 <= i + o < n]


def test_align_recovers_a_pan():
    video, _ = scene(frames=8, pan=2.0, athletes=1)
    a = cv2.cvtColor(video.read_frame(video.frame_numbers[0]), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(video.read_frame(video.frame_numbers[3]), cv2.COLOR_RGB2GRAY)
    hom = align(a, b)
    assert abs(hom[0, 2] - (-6.0)) < 0.5 and abs(hom[1, 2]) < 0.5


def covered(outer: np.ndarray, inner: np.ndarray) -> float:
    x0, y0 = np.maximum(outer[:2], inner[:2])
    x1, y1 = np.minimum(outer[2:4], inner[2:4])
    return boxes.area(np.array([x0, y0, x1, y1])) / boxes.area(inner)


def test_motion_finds_the_moving_body_despite_the_pan():
    """The best box holds the body and not much more. Where the body lingers over several of the
    neighbours (slow parts of the motion, and the first and last frames, which see one side only)
    the background estimate there is wrong and the box grows, so only coverage and size are held."""
    video, gt = scene(frames=30, pan=2.0)
    det = MotionDetector()
    ious = []
    for i in (0, 10, 20, 29):
        found = det.detect(video.read_frame(video.frame_numbers[i]), around(video, i, det.offsets))
        assert found.shape[1] == 5 and len(found) >= 1
        truth = np.array(first_box(gt[i]))
        assert covered(found[0], truth) > 0.9 and boxes.area(found[0]) < 4 * boxes.area(truth), i
        ious.append(boxes.iou(found[0, :4], truth))
    assert np.mean(ious) > 0.4


def test_motion_ignores_a_panning_background():
    """Camera motion alone is compensated: a pan over an empty scene moves nothing."""
    video, _ = scene(frames=20, pan=3.0, athletes=0)
    det = DETECTORS.create("motion")
    assert len(det.detect(video.read_frame(video.frame_numbers[10]), around(video, 10, det.offsets))) == 0


def test_motion_finds_two_athletes():
    video, gt = scene(frames=20, athletes=2)
    det = MotionDetector()
    found = det.detect(video.read_frame(video.frame_numbers[9]), around(video, 9, det.offsets))
    n, labels = cv2.connectedComponents(gt[9])
    truth = [np.array(first_box((labels == k).astype(np.uint8))) for k in range(1, n)]
    assert len(found) >= 2
    for t in truth:
        assert max(boxes.iou(f[:4], t) for f in found[:2]) > 0.5


def silhouette(height: int = 256, width: int = 256) -> np.ndarray:
    """A dark standing figure on a light ground: the shape HOG's people model was trained on."""
    img = np.full((height, width, 3), 200, np.uint8)
    c, x, y = (40, 40, 40), width // 2, 40
    cv2.circle(img, (x, y + 12), 11, c, -1)
    cv2.ellipse(img, (x, y + 55), (17, 33), 0, 0, 360, c, -1)
    for side in (-1, 1):
        cv2.line(img, (x + side * 8, y + 82), (x + side * 14, y + 150), c, 11)
        cv2.line(img, (x + side * 15, y + 30), (x + side * 24, y + 85), c, 7)
    return img


def test_hog_finds_a_standing_figure_and_nothing_in_an_empty_frame():
    det = HOGDetector(height=256)
    found = det.detect(silhouette(), [])
    assert len(found) >= 1 and found[0, 4] > 1.0
    assert boxes.iou(found[0, :4], np.array([100, 40, 156, 200.0])) > 0.3
    x0, y0, x1, y1 = found[0, :4]
    assert x0 < 110 and x1 > 146 and y0 < 52 and y1 > 190  # the box holds the whole figure
    assert len(det.detect(np.full((256, 256, 3), 200, np.uint8), [])) == 0


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
    from hm_annotate.pseudo import detectors

    video, gt = scene(frames=40, pan=2.0)
    offsets = (-9, -6, -3, 3, 6, 9)
    calls = []
    real_align = detectors.align
    monkeypatch.setattr(detectors, "align", lambda a, b: calls.append(1) or real_align(a, b))
    read = lambda p: video.read_frame(video.frame_numbers[p])  # noqa: E731
    forward = detectors.VideoBackground(read)
    diffs = {i: forward.difference(i, [i + o for o in offsets]) for i in range(9, 31)}
    pairs = {(min(i, i + o), max(i, i + o)) for i in range(9, 31) for o in offsets}
    assert len(calls) == len(pairs) < 6 * 22  # each pair once, not once per frame that needs it
    backward = detectors.VideoBackground(read)
    for i in range(30, 8, -1):  # the same whatever the order the frames are asked for
        np.testing.assert_array_equal(backward.difference(i, [i + o for o in offsets]).diff, diffs[i].diff)
    one_off = background_difference(read(20), around(video, 20, offsets))
    body = gt[20].astype(bool)
    assert np.median(diffs[20].diff[body]) > 40 and np.abs(diffs[20].diff - one_off.diff).mean() < 1.0
    forward.forget(25, 30)
    assert min(forward._reduced) == 25 and all(max(pair) >= 25 for pair in forward._homs)


def test_median_is_the_lower_median_of_the_values_present():
    from hm_annotate.pseudo.detectors import MISSING, _median

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
