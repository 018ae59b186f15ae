from __future__ import annotations

import cv2
import numpy as np
import pytest

from hm_annotate.pseudo import colours
from hm_annotate.pseudo.segmenters.grabcut import GrabCutSegmenter
from tests.pseudo.scenes import first_box, scene


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


def test_box_gives_the_body():
    video, gt = scene(frames=12)
    seg = GrabCutSegmenter()
    for i in (0, 5, 11):
        frame = video.read_frame(video.frame_numbers[i])
        [out] = seg.segment(frame, np.array([first_box(gt[i])]), [None], seed=1)
        assert out.mask.shape == gt[i].shape and out.mask.dtype == bool
        assert iou(out.mask, gt[i]) > 0.9
        assert 0.5 <= out.score <= 1.0


def test_two_boxes_two_masks_and_same_seed_same_result():
    video, gt = scene(frames=4, athletes=2)
    frame = video.read_frame(video.frame_numbers[2])
    # split the two bodies by colour-free geometry: each ground-truth component's box
    n, labels = cv2.connectedComponents(gt[2])
    assert n == 3
    bxs = np.array([first_box((labels == k).astype(np.uint8)) for k in (1, 2)])
    seg = GrabCutSegmenter()
    a = seg.segment(frame, bxs, [None, None], seed=7)
    b = seg.segment(frame, bxs, [None, None], seed=7)
    assert len(a) == 2
    for k, out in enumerate(a):
        assert iou(out.mask, labels == k + 1) > 0.85
        assert np.array_equal(out.mask, b[k].mask)


def test_prior_sets_the_initial_labels():
    """Outside the grown box: background; the prior's core: foreground; far from it: probable background."""
    seg = GrabCutSegmenter(margin=0.0, core_erode=0.1)
    prior = np.zeros((60, 60), bool)
    prior[20:40, 25:35] = True
    labels = seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60))
    assert labels[5, 5] == cv2.GC_BGD
    assert labels[30, 30] == cv2.GC_FGD
    assert labels[12, 12] == cv2.GC_PR_BGD
    assert labels[30, 36] == cv2.GC_PR_FGD  # in the band just outside the prior
    assert (seg._labels(np.array([10, 10, 50, 50.0]), None, (60, 60))[10:50, 10:50] == cv2.GC_PR_FGD).all()


def test_still_pixels_are_background_while_the_athlete_moves():
    """The static venue next to a moving athlete cannot become certain foreground."""
    seg = GrabCutSegmenter(margin=0.0, core_erode=0.1)
    prior = np.zeros((60, 60), bool)
    prior[20:40, 25:35] = True
    motion = np.zeros((60, 60), np.float32)
    motion[14:46, 28:40] = 60.0  # the moving body; the left strip of the prior (x 25-27) is still
    labels = seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60), motion)
    assert labels[30, 30] == cv2.GC_FGD
    assert labels[30, 26] == cv2.GC_PR_FGD  # in the prior but still: not certain foreground
    assert labels[30, 23] == cv2.GC_PR_BGD  # still, in the band next to the prior
    assert labels[12, 12] == cv2.GC_BGD  # still and away from the prior
    # a still athlete (or a failed alignment, which makes everything "move") leaves the cue out
    assert (
        seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60), np.zeros((60, 60), np.float32))
        == seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60))
    ).all()
    assert (
        seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60), np.full((60, 60), 60, np.float32))
        == seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60))
    ).all()


def test_still_pixels_where_the_athlete_was_keep_their_colour_labels():
    """A standing diver swings an arm: only the arm moves. The still head, body and legs inside
    the previous mask keep what colour says of them; the still venue beside them does not."""
    seg = GrabCutSegmenter(margin=0.0, core_erode=0.1)
    prior = np.zeros((60, 60), bool)
    prior[20:40, 25:35] = True
    motion = np.zeros((60, 60), np.float32)
    motion[14:46, 35:44] = 60.0  # the swinging arm, right of the body
    odds = np.full((60, 60), 0.6, np.float32)  # skin: a colour the crowd has too
    odds[25:35, 28:32] = 0.95  # the costume
    labels = seg._labels(np.array([10, 10, 50, 50.0]), prior, (60, 60), motion, odds)
    assert labels[30, 30] == cv2.GC_FGD
    assert labels[22, 27] == cv2.GC_PR_FGD  # still skin inside the prior: colour's verdict stands
    assert labels[22, 23] == cv2.GC_PR_BGD  # still, beside the prior
    assert labels[30, 40] == cv2.GC_PR_FGD  # the moving arm


def test_no_foreground_left_gives_an_empty_mask():
    """Colour cannot tell the box from its surroundings (a flat frame) and all the motion is away
    from the previous mask: nothing may be foreground, which GrabCut cannot start from; the
    answer is an empty mask, not an error."""
    frame = np.full((80, 80, 3), 120, np.uint8)
    prior = np.zeros((80, 80), bool)
    prior[30:50, 30:36] = True
    motion = np.zeros((80, 80), np.float32)
    motion[22:58, 50:62] = 90.0
    [out] = GrabCutSegmenter().segment(frame, np.array([[22, 22, 62, 58]]), [prior], seed=0, motion=motion)
    assert not out.mask.any() and np.isnan(out.score)


def test_margin_must_leave_background():
    with pytest.raises(ValueError, match="margin < context"):
        GrabCutSegmenter(margin=0.5, context=0.5)


def test_moved_prior_keeps_a_loose_box_on_the_body():
    video, gt = scene(frames=6)
    frame = video.read_frame(video.frame_numbers[5])
    x0, y0, x1, y1 = first_box(gt[5])
    loose = np.array([[x0 - 25, y0 - 20, x1 + 25, y1 + 20]])
    [out] = GrabCutSegmenter().segment(frame, loose, [gt[5].astype(bool)], seed=0)
    assert iou(out.mask, gt[5]) > 0.95


def test_a_diver_rotating_out_of_a_flat_box_is_kept_whole():
    """The box of the last frame's mask is flat (a pike seen side on); the diver has since turned
    and rises a few pixels above it. A margin of a quarter of the short side (2 px) would cut the
    rise off; the margin from the box's mean side leaves it room."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(40, 200, (80, 100, 3), dtype=np.uint8), (0, 0), 3)
    body = np.zeros((80, 100), bool)
    body[40:48, 20:80] = True  # the pike, in last frame's box
    body[36:40, 68:80] = True  # the legs now rising above it
    frame[body] = (220, 60, 50)
    [out] = GrabCutSegmenter(motion_step=0).segment(frame, np.array([[20, 40, 80, 48.0]]), [None], seed=0)
    assert out.mask[36:40, 68:80].mean() > 0.9
    assert iou(out.mask, body) > 0.9


def test_degenerate_or_outside_box_gives_empty_mask():
    frame = np.full((40, 50, 3), 90, np.uint8)
    seg = GrabCutSegmenter()
    out = seg.segment(frame, np.array([[10, 10, 11, 30], [60, 60, 80, 80]]), [None, None], seed=0)
    assert [o.mask.any() for o in out] == [False, False]
    assert all(np.isnan(o.score) for o in out)


@pytest.fixture(scope="module")
def dive(tmp_path_factory):
    """One synthetic dive (crowd, banners, moving camera) with exact masks."""
    from hm_annotate.datasets import load_videos
    from hm_annotate.store import MaskStore
    from hm_annotate.synth.generate import generate

    out = tmp_path_factory.mktemp("dive")
    generate(out, videos=1, seed=7, sync_fraction=0.0)
    [video] = load_videos("finediving", out)
    with MaskStore.open(out / "gt_masks.h5", "r") as store:
        _, masks = store.masks(video.id, "corrected")
    return video, masks.astype(bool)


def test_the_athletes_colours_beat_the_box_alone_on_a_synthetic_dive(dive):
    """With the colours learned from the previous frame's mask, GrabCut separates a thin athlete
    from a crowd of every colour far better than from the box alone (rectangle mode)."""
    video, gt = dive
    seg = GrabCutSegmenter(motion_step=0)
    with_model, box_only = [], []
    for i in range(20, 70, 5):
        prev = video.read_frame(video.frame_numbers[i - 1])
        frame = video.read_frame(video.frame_numbers[i])
        box = np.array([first_box(gt[i])])
        model = colours.of_mask(prev, gt[i - 1])
        [guided] = seg.segment(frame, box, [gt[i - 1]], seed=0, appearance=[model])
        with_model.append(iou(guided.mask, gt[i]))
        box_only.append(iou(seg.segment(frame, box, [None], seed=0)[0].mask, gt[i]))
    assert np.mean(with_model) > 0.85
    assert np.mean(with_model) > np.mean(box_only) + 0.3


def test_seeded_from_a_loose_prior_fits_the_body():
    """Another model's loose mask (the body grown by 6 pixels at probability 0.6, its eroded core
    certain) as the seed: GrabCut trims the loose band back to the body and keeps the core."""
    video, gt = scene(frames=6)
    seg = GrabCutSegmenter()
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (13, 13))
    for i in (0, 5):
        frame = video.read_frame(video.frame_numbers[i])
        body = gt[i].astype(np.uint8)
        probability = np.where(cv2.dilate(body, disk) > 0, 0.6, 0.0).astype(np.float32)
        probability[cv2.erode(body, np.ones((5, 5), np.uint8)) > 0] = 1.0
        out = seg.seeded(frame, np.array(first_box(gt[i]), float), probability, 0.9, seed=1)
        assert iou(out.mask, gt[i]) > 0.9
        assert iou(out.mask, gt[i]) > iou(probability > 0.5, gt[i]) + 0.05
        assert 0.5 <= out.score <= 1.0
