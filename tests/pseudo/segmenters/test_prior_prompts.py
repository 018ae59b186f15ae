"""SAM's prompt from the human prior, on real frames: which box and points an unsure tracker gets."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.errors import HMError
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.segmenters.prior_prompts import PriorPrompter, Prompt, decode_in_batches
from tests.pseudo.footage import CAR_BOX, OFF_THE_MAN, carphone, man_mask, shared_clip, two_men


@pytest.fixture(scope="module")
def prompter():
    pytest.importorskip("ai_edge_litert")
    return PriorPrompter()


@pytest.fixture(scope="module")
def man():
    """Carphone's first frame and the pose segmenter's mask of the man."""
    pytest.importorskip("ai_edge_litert")
    frame = carphone(1)[0]
    return frame, man_mask(frame)


def test_an_agreeing_box_with_a_carried_mask_is_prompted_alone(prompter, man):
    frame, mask = man
    p = prompter.prompt(frame, CAR_BOX, carried=mask)
    assert p.reason == "tracked" and np.array_equal(p.box, CAR_BOX) and p.points.shape == (0, 2)


def test_a_box_moved_off_the_man_gets_his_box_and_his_body_points(prompter, man):
    frame, mask = man
    assert boxes.iou(OFF_THE_MAN, CAR_BOX) < 0.3
    p = prompter.prompt(frame, OFF_THE_MAN, carried=mask)
    assert p.reason == "drift"
    assert boxes.iou(p.box, boxes.of_mask(mask)) > 0.9  # the person's box, not the tracked one
    assert len(p.points) >= 3  # he is seen from the chest up: nose and shoulders at least
    cols, rows = p.points.astype(int).T
    assert mask[rows, cols].all()  # every click is on the man
    assert ((p.points >= p.box[:2]) & (p.points < p.box[2:])).all()


def test_without_a_carried_mask_the_box_is_kept_and_points_inside_it_added(prompter, man):
    """A prompt (no carried mask) is the user's box: never replaced, even where it disagrees with
    the person's box; its points are the body points on the man inside it."""
    frame, mask = man
    for box in (CAR_BOX, OFF_THE_MAN):
        for carried in (None, np.zeros_like(mask)):
            p = prompter.prompt(frame, box, carried=carried)
            assert p.reason == "fresh" and np.array_equal(p.box, box), box
            cols, rows = p.points.astype(int).T
            assert mask[rows, cols].all() and ((p.points >= box[:2]) & (p.points < box[2:])).all()
    everywhere = prompter.prompt(frame, CAR_BOX, carried=None).points
    inside = prompter.prompt(frame, OFF_THE_MAN, carried=None).points
    assert len(everywhere) >= 3 and 0 < len(inside) < len(everywhere)  # his shoulder, not his face
    assert len(PriorPrompter(points=False).prompt(frame, CAR_BOX, carried=None).points) == 0


RIGHT_MAN = CAR_BOX + [176, 0, 176, 0]  # athlete B's box on ``two_men``


def test_the_partners_body_is_not_prompted_for_a_drifted_box():
    """Two men side by side: athlete A's box has drifted onto the right man, B's athlete. Alone,
    A's box is prompted on him; beside B's box he is B's: A's box gets the left man (nearer its
    centre than B's) in the prior's wide crop, nobody (unseen, no points) in a narrower one."""
    frame = two_men()
    prompter = PriorPrompter()
    a = np.array([140.0, 14.0, 352.0, 144.0])
    alone = prompter.prompt(frame, a, carried=None)
    assert alone.reason == "fresh" and len(alone.points) >= 3 and (alone.points[:, 0] >= 176).all()
    got_a, got_b = prompter.prompts(frame, np.stack([a, RIGHT_MAN]), carried=[None, None])
    assert got_a.reason == "fresh" and len(got_a.points) >= 1 and (got_a.points[:, 0] < 176).all()
    assert got_b.reason == "fresh" and len(got_b.points) >= 3 and (got_b.points[:, 0] >= 176).all()
    narrow = PriorPrompter(enlarge=1.5)
    got_a, got_b = narrow.prompts(frame, np.stack([a, RIGHT_MAN]), carried=[None, None])
    assert got_a.reason == "unseen" and np.array_equal(got_a.box, a) and len(got_a.points) == 0
    assert got_b.reason == "fresh" and (got_b.points[:, 0] >= 176).all()


def test_one_man_found_from_two_boxes_is_the_nearer_boxs():
    """A box drifted up onto the right man's head (a carried mask): alone it is moved onto his
    box; beside B's box, nearer his middle, his mask is B's and A's box stays as it is, unseen."""
    frame = two_men()
    prompter = PriorPrompter()
    a = np.array([250.0, 0.0, 352.0, 100.0])
    carried = np.zeros(frame.shape[:2], bool)
    carried[0:100, 250:352] = True
    alone = prompter.prompt(frame, a, carried=carried)
    assert alone.reason == "drift" and boxes.iou(alone.box, RIGHT_MAN) > 0.9
    got_a, got_b = prompter.prompts(frame, np.stack([a, RIGHT_MAN]), carried=[carried, carried])
    assert got_a.reason == "unseen" and np.array_equal(got_a.box, a) and len(got_a.points) == 0
    assert got_b.reason == "tracked" and np.array_equal(got_b.box, RIGHT_MAN)


def test_where_the_prior_sees_nobody_the_tracked_box_stays(prompter):
    frame = np.full((144, 176, 3), 200, np.uint8)
    frame[40:100, 60:110] = (30, 60, 200)  # a blue block, no person
    box = np.array([50.0, 30.0, 120.0, 110.0])
    p = prompter.prompt(frame, box, carried=None)
    assert p.reason == "unseen" and np.array_equal(p.box, box) and len(p.points) == 0


def test_shared_clip_a_drifted_box_finds_the_dancer_again(prompter):
    """DAVIS lucia and hike: the ground-truth box agrees with the prior; the same box slid by 60%
    of its width off the person gets the person's box back, and clicks on the person."""
    for clip in ("lucia", "hike"):
        [frame], [truth] = shared_clip(clip, [20])
        exact = boxes.of_mask(truth)
        assert prompter.prompt(frame, exact, carried=truth).reason == "tracked"
        width = exact[2] - exact[0]
        slid = boxes.clip(exact + [0.6 * width, 0, 0.6 * width, 0], *truth.shape)
        p = prompter.prompt(frame, slid, carried=truth)
        assert p.reason == "drift", clip
        assert boxes.iou(p.box, exact) > 0.7 > boxes.iou(slid, exact) + 0.2, clip
        cols, rows = p.points.astype(int).T
        assert len(p.points) >= 5 and truth[rows, cols].mean() >= 0.8, clip


def test_prompts_are_decoded_in_groups_of_as_many_points_in_their_order():
    one = np.zeros((1, 2))
    prompts = [
        Prompt(np.array([0.0, 0, 5, 5]), np.zeros((0, 2)), "tracked"),
        Prompt(np.array([1.0, 1, 6, 6]), one + 2, "fresh"),
        Prompt(np.array([2.0, 2, 7, 7]), np.zeros((0, 2)), "unseen"),
        Prompt(np.array([3.0, 3, 8, 8]), one + 4, "drift"),
    ]
    calls = []

    def decode(boxes, points):
        calls.append((boxes[:, 0].tolist(), None if points is None else points.shape))
        return [f"box {int(b[0])}" for b in boxes]

    assert decode_in_batches(prompts, decode) == ["box 0", "box 1", "box 2", "box 3"]
    assert calls == [([0, 2], None), ([1, 3], (2, 1, 2))]
    calls.clear()
    assert decode_in_batches(prompts[::2], decode) == ["box 0", "box 2"]
    assert calls == [([0, 2], None)]  # boxes alone: one call, as without the prior


def test_bad_prior_parameters_are_named():
    with pytest.raises(HMError, match=r"unknown prior parameters \['min_ioo'\]"):
        PriorPrompter(min_ioo=0.4)
    with pytest.raises(HMError, match="min_iou must be within 0-1"):
        PriorPrompter(min_iou=1.5)
    for bad, message in [
        ({"enlarge": 0.5}, "enlarge must be at least 1"),
        ({"threshold": -0.1}, "threshold must be within 0-1"),
        ({"min_score": 2}, "min_score must be within 0-1"),
        ({"threads": 0}, "threads must be at least 1"),
    ]:
        with pytest.raises(HMError, match=message):
            PriorPrompter(**bad)
