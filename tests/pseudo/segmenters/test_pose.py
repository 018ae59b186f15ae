"""The pose segmenter on real frames: a person mask from the box, turned views, the fallback."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.pose_models import crop_of_box
from hm_annotate.pseudo.segmenters import SEGMENTERS
from hm_annotate.pseudo.segmenters.pose import _shared
from tests.pseudo.footage import CAR_BOX, carphone, iou, shared_clip, two_men

pytest.importorskip("ai_edge_litert")


def segment(seg, frame: np.ndarray, box: np.ndarray):
    [image] = seg.prepare([frame])
    return seg.segment(image, box[None], [None], 0)[0]


def test_carphone_man_is_segmented_from_his_box():
    seg = SEGMENTERS.create("pose", fallback=None)
    frame = carphone(1)[0]
    out = segment(seg, frame, CAR_BOX)
    assert out.score >= 0.5
    share = out.mask.mean()
    assert 0.2 < share < 0.6  # the man fills part of the frame, not all of it and not nothing
    # his face (frame centre top) is in, the window on the top right is out
    assert out.mask[40:60, 70:100].mean() > 0.9
    assert out.mask[0:15, 150:176].mean() < 0.1


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turned_frames_are_searched_by_turning_the_crop(turns: int):
    """The same man on a frame turned by 90/180/270 degrees: the turn search finds him and the
    mask, turned back, matches the one on the upright frame."""
    seg = SEGMENTERS.create("pose", fallback=None)
    frame = carphone(1)[0]
    upright = segment(seg, frame, CAR_BOX).mask
    turned = np.ascontiguousarray(np.rot90(frame, turns))
    box = boxes.of_mask(np.rot90(upright, turns))
    person = seg.find(turned, box)
    assert person.presence >= 0.5
    # the crop the model settled on stands the man upright again
    assert abs((person.crop.angle + 90 * turns + 180) % 360 - 180) < 35
    back = np.rot90(segment(seg, turned, box).mask, -turns)
    assert iou(back, upright) > 0.8


def test_fallback_answers_where_the_model_sees_nobody():
    """A box on a blank wall: no person there, so the fallback (GrabCut) makes the mask."""
    frame = np.full((144, 176, 3), 200, np.uint8)
    frame[40:100, 60:110] = (30, 60, 200)  # a blue block, no person
    box = np.array([50.0, 30.0, 120.0, 110.0])
    pose = SEGMENTERS.create("pose", fallback_params={"motion_step": 0})
    grabcut = SEGMENTERS.create("grabcut", motion_step=0)
    [image] = pose.prepare([frame])
    assert not pose.needs_motion(image, box[None])  # the fallback was built without a motion cue
    assert pose.find(frame, box) is None
    got = pose.segment(image, box[None], [None], 3)[0]
    want = grabcut.segment(grabcut.prepare([frame])[0], box[None], [None], 3)[0]
    assert np.array_equal(got.mask, want.mask)
    assert got.mask[50:90, 70:100].all()


def test_a_person_beside_the_box_is_not_the_boxs_person():
    """A box on the car's window beside the man's head: the detector finds him in the enlarged
    crop, but his mask lies mostly outside the box, so the box gets the fallback, not his mask."""
    frame = carphone(1)[0]
    seg = SEGMENTERS.create("pose", fallback=None, min_score=0.5)
    box = np.array([0.0, 0.0, 60.0, 70.0])
    assert seg.models[0].bodies_in(frame, crop_of_box(box, seg.enlarge))  # someone is in view
    assert seg.find(frame, box) is None
    assert seg.find(frame, CAR_BOX) is not None


def test_shared_clip_inverted_breakdancer():
    """DAVIS breakdance-flare: a dancer spinning on one hand, upside down much of the time."""
    frames, masks = shared_clip("breakdance-flare", [0, 30, 59])
    seg = SEGMENTERS.create("pose", fallback=None)
    scores = [iou(segment(seg, f, boxes.of_mask(m)).mask, m) for f, m in zip(frames, masks)]
    assert min(scores) > 0.75, scores


def test_seed_fallback_refines_the_person_mask_with_grabcut():
    """With ``seed_fallback`` the person mask seeds GrabCut: the result stays on the man (most of
    it inside his pose mask grown a little, his face kept) and close to the pose mask."""
    frame = carphone(1)[0]
    plain = segment(SEGMENTERS.create("pose", fallback_params={"motion_step": 0}), frame, CAR_BOX).mask
    seeded = SEGMENTERS.create("pose", seed_fallback=0.9, fallback_params={"motion_step": 0})
    out = segment(seeded, frame, CAR_BOX)
    assert out.score >= 0.5
    assert iou(out.mask, plain) > 0.8
    assert not np.array_equal(out.mask, plain)  # GrabCut did move the outline
    assert out.mask[40:60, 70:100].mean() > 0.9
    assert out.mask[0:15, 150:176].mean() < 0.1


def test_seed_fallback_needs_a_seedable_fallback():
    with pytest.raises(ValueError, match="seed_fallback"):
        SEGMENTERS.create("pose", fallback=None, seed_fallback=0.9)


def test_min_agreement_hands_a_body_unlike_the_followed_one_to_the_fallback():
    """A person mask that does not overlap the mask carried from the previous frame by
    ``min_agreement`` goes to the fallback; one that does is kept, and without a prior it agrees."""
    frame = carphone(1)[0]
    seg = SEGMENTERS.create("pose", min_agreement=0.5, fallback_params={"motion_step": 0})
    grabcut = SEGMENTERS.create("grabcut", motion_step=0)
    [image] = seg.prepare([frame])
    alone = seg.segment(image, CAR_BOX[None], [None], 0)[0].mask
    followed = seg.segment(image, CAR_BOX[None], [alone], 0)[0].mask
    assert np.array_equal(followed, alone)
    elsewhere = np.zeros_like(alone)
    elsewhere[100:144, 30:80] = True  # the man's shoulder only: IoU with his mask far below 0.5
    got = seg.segment(image, CAR_BOX[None], [elsewhere], 0)[0].mask
    want = grabcut.segment(frame, CAR_BOX[None], [elsewhere], 0)[0].mask
    assert np.array_equal(got, want)
    assert not np.array_equal(got, alone)


def test_a_body_nearer_another_athletes_box_is_theirs():
    """Athlete A's box has drifted onto the right man, who is athlete B's: alone, A's box takes
    the right man (he is nearest its centre); beside B's box he is B's, and A's box is answered
    by the fallback, not by the neighbour's mask."""
    frame = two_men()
    seg = SEGMENTERS.create("pose", fallback_params={"motion_step": 0})
    grabcut = SEGMENTERS.create("grabcut", motion_step=0)
    a, b = np.array([140.0, 14.0, 352.0, 144.0]), CAR_BOX + [176, 0, 176, 0]
    alone = segment(seg, frame, a).mask
    assert alone[:, 176:].sum() > 0.9 * alone.sum()  # the right man, B's athlete
    [image] = seg.prepare([frame])
    got_a, got_b = (s.mask for s in seg.segment(image, np.stack([a, b]), [None, None], 0))
    assert iou(got_b, alone) > 0.8  # B keeps his man
    assert np.array_equal(got_a, grabcut.segment(frame, a[None], [None], 0)[0].mask)


def test_a_person_mask_holding_another_athlete_is_refused():
    """Real person masks of the two men: a mask holding both men holds most of the right man's
    mask and lies mostly outside it, so it is both athletes and refused; the right man's own mask
    is kept; of one man found from two boxes, the box nearer his middle keeps him."""
    frame = two_men()
    seg = SEGMENTERS.create("pose", fallback=None)
    left = segment(seg, frame, CAR_BOX).mask
    right = segment(seg, frame, CAR_BOX + [176, 0, 176, 0]).mask
    assert left[:, :176].sum() > 0.9 * left.sum() and right[:, 176:].sum() > 0.9 * right.sum()
    centres = [np.array([176.0, 79.0]), np.array([279.0, 79.0])]
    assert _shared([left | right, right], centres) == [True, False]
    assert _shared([left, right], centres) == [False, False]
    assert _shared([right, right], centres) == [True, False]  # the right man is the right box's
    assert _shared([right, None], centres) == [False, False]
