from __future__ import annotations

import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.config import LossRules, Stage, TargetRules
from hm_annotate.pseudo.frames import VideoFrames
from hm_annotate.pseudo.segmenters import SEGMENTERS, Segmenter
from hm_annotate.pseudo.segmenters.grabcut import GrabCutSegmenter
from hm_annotate.pseudo.targets import Accepted, Target, Targets, assign, moving_prior
from hm_annotate.pseudo.timings import Timings
from hm_annotate.pseudo.trackers import TRACKERS
from tests.pseudo.scenes import first_box, scene
from tests.pseudo.tiny_sam import TINY_CONFIG, save_tiny_sam

ESTABLISHED = TargetRules().established


def targets_for(segmenter: Segmenter, **rules: float) -> Targets:
    """One target (object 1) followed with mask-flow, for ``segmenter``, under ``rules``."""
    return Targets(
        ids=[1],
        loss=LossRules(),
        rules=TargetRules(**rules),
        new_tracker=lambda: TRACKERS.create("mask-flow"),
        uses_appearance=segmenter.uses_appearance,
        timings=Timings(),
    )


def test_the_athletes_colour_model_is_kept_only_for_a_segmenter_that_uses_it(tmp_path, torch_one_thread):
    ckpt = save_tiny_sam(tmp_path / "tiny.pth")
    sam = Stage("sam", {"model": "tiny", "checkpoint": str(ckpt), "model_config": TINY_CONFIG})
    video, gt = scene(frames=2)
    frame = video.read_frame(video.frame_numbers[0])
    for segmenter, kept in ((sam, False), (Stage("grabcut"), True)):
        params = {**segmenter.params, "device": "cpu"} if segmenter.name == "sam" else segmenter.params
        targets = targets_for(SEGMENTERS.create(segmenter.name, **params))
        [target] = targets
        target.tracker = targets.new_tracker()
        assert targets.accept(target, gt[0].astype(bool), frame=frame, position=0, prompted=True)
        assert (target.model is not None) == kept and target.colours is not None  # the gate needs colours


def test_a_lost_athlete_is_not_given_a_detection_of_a_very_different_size():
    def target(accepted: int) -> Target:
        box = np.array([100, 50, 120, 100.0])
        t = Target(1, box=box, accepted=Accepted(masks=[(1000, boxes.area(box))] * accepted))
        t.lost = True
        return t

    huge_near = np.array([0, 40, 300, 240.0])  # the athlete merged with the venue in the difference
    same_far = np.array([150, 60, 172, 112.0])
    found = np.array([huge_near, same_far])
    assert assign(found, [target(ESTABLISHED)], taken=[], position=20)[1].tolist() == same_far.tolist()
    assert assign(found[:1], [target(ESTABLISHED)], taken=[], position=20) == {}
    # a target found only just now may have been found in part (a moving arm): it may grow
    assert assign(found[:1], [target(1)], taken=[], position=20)[1].tolist() == huge_near.tolist()


def test_a_detection_far_from_an_athlete_seen_a_moment_ago_is_something_else():
    """A logo or a walker three box diagonals away is not the athlete lost one frame ago; after
    ten frames lost the athlete may well be there."""
    box = np.array([100, 50, 120, 100.0])
    far = box + 3 * boxes.diagonal(box) * np.array([1, 0, 1, 0])
    t = Target(1, box=box, seen=20)
    assert assign(far[None], [t], taken=[], position=21) == {}
    assert assign(far[None], [t], taken=[], position=19) == {}  # backwards just the same
    assert assign(far[None], [t], taken=[], position=30)[1].tolist() == far.tolist()
    assert assign((box + 5)[None], [t], taken=[], position=21)[1].tolist() == (box + 5).tolist()


def test_an_athlete_lost_on_this_frame_is_not_handed_a_detection_beside_it():
    """The tracker lost the diver at entry and a caption just beside her moves: one frame after
    she was seen she is still about where she was, so only a detection touching her box can be
    her; a frame later the usual search radius holds again."""
    box = np.array([100, 50, 120, 100.0])
    beside = box + np.array([25, 0, 25, 0])  # well within 1.5 diagonals, but not touching
    t = Target(1, box=box, seen=20)
    assert assign(beside[None], [t], taken=[], position=21) == {}
    assert assign(beside[None], [t], taken=[], position=19) == {}
    assert assign(beside[None], [t], taken=[], position=22)[1].tolist() == beside.tolist()
    touching = box + np.array([15, 5, 15, 5])
    assert assign(touching[None], [t], taken=[], position=21)[1].tolist() == touching.tolist()


def test_the_colour_gate_guards_only_an_athlete_followed_for_a_while():
    """A target found just now may have been found in part (an arm): a mask of other colours
    replaces it; once followed for ESTABLISHED frames, such a mask is refused as not the athlete."""
    video, gt = scene(frames=2)
    targets = targets_for(GrabCutSegmenter())
    [target] = targets
    target.tracker = targets.new_tracker()
    frame = video.read_frame(video.frame_numbers[0])
    body = gt[0].astype(bool)
    red = frame.copy()
    red[body] = (230, 20, 20)
    assert targets.accept(target, body, frame=frame, position=0, prompted=False)
    assert targets.accept(
        target, body, frame=red, position=0, prompted=False
    )  # not established: colours may change
    for _ in range(ESTABLISHED):
        assert targets.accept(target, body, frame=frame, position=0, prompted=False)
    assert not targets.accept(target, body, frame=red, position=0, prompted=False) and target.lost


def test_a_detected_box_starts_with_what_moves_in_it_as_prior():
    """The venue inside a box drawn around motion must not teach the segmenter the athlete's
    colours: the moving pixels are the first prior; a box where nothing moves has none."""
    video, gt = scene(frames=24)
    background = VideoFrames(video, Timings(), reach=9).background(12, GrabCutSegmenter().motion_offsets)
    assert background.scale == 1.0  # the difference is at full size, as the pipeline hands it over
    motion = background.diff
    box = boxes.expand(np.array(first_box(gt[12])), 0.5)
    moving = moving_prior(motion, box)
    inside = np.zeros(gt[12].shape, bool)
    x, y, w, h = boxes.to_xywh(box, *gt[12].shape)
    inside[y : y + h, x : x + w] = True
    assert moving is not None and not (moving & ~inside).any()
    assert (moving & gt[12].astype(bool)).sum() > 0.6 * moving.sum()
    assert (moving & gt[12].astype(bool)).sum() > 0.5 * gt[12].sum()
    assert moving_prior(motion, np.array([0, 0, 20, 20.0])) is None  # a corner of still venue


def test_the_rules_a_pipeline_sets_are_the_ones_applied():
    """``targets:`` in the pipeline YAML reaches the matching and the gates: a shorter jump keeps a
    detection two diagonals away from an athlete lost ten frames ago; fewer masks make the
    colour gate guard sooner; a higher motion threshold leaves a detected box without a prior."""
    box = np.array([100, 50, 120, 100.0])
    two_away = box + 2 * boxes.diagonal(box) * np.array([1, 0, 1, 0])
    t = Target(1, box=box, seen=20)
    assert assign(two_away[None], [t], taken=[], position=30)[1].tolist() == two_away.tolist()
    assert assign(two_away[None], [t], taken=[], position=30, rules=TargetRules(max_jump=1.5)) == {}

    video, gt = scene(frames=2)
    frame = video.read_frame(video.frame_numbers[0])
    body = gt[0].astype(bool)
    red = frame.copy()
    red[body] = (230, 20, 20)
    targets = targets_for(GrabCutSegmenter(), established=1)
    [target] = targets
    target.tracker = targets.new_tracker()
    assert targets.accept(target, body, frame=frame, position=0, prompted=False)
    assert not targets.accept(target, body, frame=red, position=0, prompted=False) and target.lost

    video, gt = scene(frames=24)
    motion = VideoFrames(video, Timings(), reach=9).background(12, GrabCutSegmenter().motion_offsets).diff
    around = boxes.expand(np.array(first_box(gt[12])), 0.5)
    assert moving_prior(motion, around) is not None
    assert moving_prior(motion, around, rules=TargetRules(moving=255.0)) is None


def test_a_lost_athlete_is_sized_by_its_recent_masks_not_by_the_last_partial_one():
    """Before a loss the masks often shrink (the tracker slides off a somersaulting diver): the
    athlete found whole again is the size it had over the recent frames, so a detection of that
    size is theirs, while one several times that size is still something else."""
    video, gt = scene(frames=12)
    targets = targets_for(GrabCutSegmenter())
    [target] = targets
    target.tracker = targets.new_tracker()
    for i in range(ESTABLISHED + 2):
        frame = video.read_frame(video.frame_numbers[i])
        assert targets.accept(target, gt[i].astype(bool), frame=frame, position=i, prompted=i == 0)
    whole = np.array(first_box(gt[ESTABLISHED + 2]), np.float64)
    last = ESTABLISHED + 2
    partial = np.zeros_like(gt[last], bool)  # the last mask: a third of the body's box
    x0, y0, x1, y1 = (int(v) for v in whole)
    partial[y0 : y0 + (y1 - y0) // 3, x0:x1] = gt[last][y0 : y0 + (y1 - y0) // 3, x0:x1].astype(bool)
    frame = video.read_frame(video.frame_numbers[last])
    assert targets.accept(target, partial, frame=frame, position=last, prompted=True)
    assert (
        boxes.area(whole) / boxes.area(target.box) > TargetRules().max_size_change
    )  # refused by the last box
    target.lost = True
    assert assign(whole[None], [target], taken=[], position=last + 2)[1].tolist() == whole.tolist()
    venue = boxes.expand(whole, 1.5)  # four times the athlete's box: the athlete merged with the venue
    assert assign(venue[None], [target], taken=[], position=last + 2) == {}
