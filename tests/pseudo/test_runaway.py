"""The runaway guard: a mask may reach only as far as the athlete's measured motion allows."""

from __future__ import annotations

import dataclasses

import numpy as np

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.config import PipelineConfig, Stage
from hm_annotate.pseudo.pipeline import Components, label_video
from hm_annotate.pseudo.runaway import RunawayGuard
from hm_annotate.pseudo.segmenters.grabcut import GrabCutSegmenter
from tests.pseudo.footage import carphone
from tests.pseudo.scenes import first_box, scene


def test_a_leak_beyond_the_measured_motion_is_cut_and_flagged():
    """Carphone frames 0 and 1: the man's mask on frame 1 passes, the same mask with the car's
    window pillar on the left added (no motion took him there) is a runaway and is cut back."""
    frames = carphone(2)
    man = np.zeros(frames[0].shape[:2], bool)
    man[14:144, 40:176] = True  # a coarse mask of the man; the guard follows points inside it
    guard = RunawayGuard()
    guard.remember(frames[0], man)
    assert not guard.check(frames[1], man).runaway
    leaky = man.copy()
    leaky[:, 0:25] = True
    verdict = guard.check(frames[1], leaky)
    assert verdict.runaway and verdict.outside > 0.1
    cut = verdict.cut(leaky)
    assert cut[:, 0:10].sum() == 0 and (cut & man).sum() == man.sum()


def test_without_a_reference_or_with_nothing_to_follow_nothing_is_judged():
    frames = carphone(2)
    guard = RunawayGuard()
    everything = np.ones(frames[0].shape[:2], bool)
    assert not guard.check(frames[1], everything).runaway  # no reference yet
    flat = np.full_like(frames[0], 90)
    guard.remember(flat, everything)  # no corner to follow on a flat frame
    verdict = guard.check(flat, everything)
    assert not verdict.runaway and verdict.allowed is None


LEAK = 0.5


class LeakyGrabCut(GrabCutSegmenter):
    """GrabCut whose every mask also takes in a band of background right of the box it was given,
    half as wide as the box, as a mask of the athlete's colours takes in a wall beside them: fed
    back to the tracker, each box would be half as wide again as the last. It keeps the boxes it
    was given."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[np.ndarray] = []

    def segment(self, image, boxes_, priors, seed, motion=None, appearance=None):
        self.given.append(np.asarray(boxes_[0], np.float64))
        out = super().segment(image, boxes_, priors, seed, motion, appearance)
        for seg, box in zip(out, boxes_):
            x1 = int(box[2])
            seg.mask[int(box[1]) : int(box[3]), x1 : x1 + int(LEAK * (box[2] - box[0]))] = True
        return out


def test_a_leaky_mask_does_not_widen_the_next_box(tmp_path):
    video, gt = scene(frames=16)
    prompts = tmp_path / "prompts.csv"
    x0, y0, x1, y1 = first_box(gt[0])
    prompts.write_text(f"v/1,100,{x0},{y0},{x1},{y1},1\n")
    cfg = PipelineConfig(
        name="t", segmenter=Stage("grabcut"), tracker=Stage("mask-flow"), prompts=str(prompts)
    )
    seg = LeakyGrabCut()
    data = label_video(video, dataclasses.replace(Components.build(cfg), segmenter=seg))
    truth = [boxes.of_mask(g) for g in gt]
    widths = [b[2] - b[0] for b in seg.given]
    # fed back, each box would be 1.5 times the last: the whole frame's width within 5 frames
    assert max(widths) < 2 * max(t[2] - t[0] for t in truth) < video.read_frame(100).shape[1] / 2
    assert np.mean([boxes.iou(b, t) for b, t in zip(seg.given, truth)]) > 0.4
    assert data.quality["runaway"][1:].mean() > 0.5  # leaky frames are flagged for review
    assert data.quality["runaway"][0] == 0  # the prompted frame is the athlete by definition
