"""SAM's prompt from the human prior, on real frames: which box and points an unsure tracker gets."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.errors import HMError
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.segmenters import SEGMENTERS
from hm_annotate.pseudo.segmenters.prior_prompts import PriorPrompter, Prompt, batches
from tests.pseudo.footage import carphone, shared_clip

CAR_BOX = np.array([30.0, 14.0, 176.0, 144.0])  # the man, as a prompt box on carphone
OFF_THE_MAN = np.array([0.0, 40.0, 90.0, 144.0])  # the car's side window and his shoulder


@pytest.fixture(scope="module")
def prompter():
    pytest.importorskip("ai_edge_litert")
    return PriorPrompter()


@pytest.fixture(scope="module")
def man():
    """Carphone's first frame and the pose segmenter's mask of the man."""
    pytest.importorskip("ai_edge_litert")
    frame = carphone(1)[0]
    seg = SEGMENTERS.create("pose", fallback=None)
    [image] = seg.prepare([frame])
    return frame, seg.segment(image, CAR_BOX[None], [None], 0)[0].mask


def test_an_agreeing_box_with_a_carried_mask_is_prompted_alone(prompter, man):
    frame, mask = man
    p = prompter.prompt(frame, CAR_BOX, mask)
    assert p.reason == "tracked" and np.array_equal(p.box, CAR_BOX) and p.points.shape == (0, 2)


def test_a_box_moved_off_the_man_gets_his_box_and_his_body_points(prompter, man):
    frame, mask = man
    assert boxes.iou(OFF_THE_MAN, CAR_BOX) < 0.3
    p = prompter.prompt(frame, OFF_THE_MAN, mask)
    assert p.reason == "drift"
    assert boxes.iou(p.box, boxes.of_mask(mask)) > 0.9  # the person's box, not the tracked one
    assert len(p.points) >= 3  # he is seen from the chest up: nose and shoulders at least
    cols, rows = p.points.astype(int).T
    assert mask[rows, cols].all()  # every click is on the man
    assert ((p.points >= p.box[:2]) & (p.points < p.box[2:])).all()


def test_without_a_carried_mask_the_box_is_kept_and_points_added(prompter, man):
    frame, mask = man
    for carried in (None, np.zeros_like(mask)):
        p = prompter.prompt(frame, CAR_BOX, carried)
        assert p.reason == "fresh" and np.array_equal(p.box, CAR_BOX) and len(p.points) >= 3
    assert len(PriorPrompter(points=False).prompt(frame, CAR_BOX, None).points) == 0


def test_where_the_prior_sees_nobody_the_tracked_box_stays(prompter):
    frame = np.full((144, 176, 3), 200, np.uint8)
    frame[40:100, 60:110] = (30, 60, 200)  # a blue block, no person
    box = np.array([50.0, 30.0, 120.0, 110.0])
    p = prompter.prompt(frame, box, None)
    assert p.reason == "unseen" and np.array_equal(p.box, box) and len(p.points) == 0


def test_shared_clip_a_drifted_box_finds_the_dancer_again(prompter):
    """DAVIS lucia and hike: the ground-truth box agrees with the prior; the same box slid by 60%
    of its width off the person gets the person's box back, and clicks on the person."""
    for clip in ("lucia", "hike"):
        [frame], [truth] = shared_clip(clip, [20])
        exact = boxes.of_mask(truth)
        assert prompter.prompt(frame, exact, truth).reason == "tracked"
        width = exact[2] - exact[0]
        slid = boxes.clip(exact + [0.6 * width, 0, 0.6 * width, 0], *truth.shape)
        p = prompter.prompt(frame, slid, truth)
        assert p.reason == "drift", clip
        assert boxes.iou(p.box, exact) > 0.7 > boxes.iou(slid, exact) + 0.2, clip
        cols, rows = p.points.astype(int).T
        assert len(p.points) >= 5 and truth[rows, cols].mean() >= 0.8, clip


def test_batches_group_prompts_by_their_number_of_points():
    one = np.zeros((1, 2))
    prompts = [
        Prompt(np.array([0.0, 0, 5, 5]), np.zeros((0, 2)), "tracked"),
        Prompt(np.array([1.0, 1, 6, 6]), one + 2, "fresh"),
        Prompt(np.array([2.0, 2, 7, 7]), np.zeros((0, 2)), "unseen"),
        Prompt(np.array([3.0, 3, 8, 8]), one + 4, "drift"),
    ]
    [(alone, alone_boxes, none), (clicked, clicked_boxes, points)] = batches(prompts)
    assert alone == [0, 2] and none is None and alone_boxes[:, 0].tolist() == [0, 2]
    assert clicked == [1, 3] and clicked_boxes[:, 0].tolist() == [1, 3]
    assert points.shape == (2, 1, 2) and points[:, 0, 0].tolist() == [2, 4]


def test_bad_prior_parameters_are_named():
    with pytest.raises(HMError, match=r"unknown prior parameters \['min_ioo'\]"):
        PriorPrompter(min_ioo=0.4)
    with pytest.raises(HMError, match="min_iou must be within 0-1"):
        PriorPrompter(min_iou=1.5)
