from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.trackers import TRACKERS
from tests.pseudo.scenes import first_box, scene


@pytest.mark.parametrize("name", ["csrt", "kcf", "mil"])
def test_follows_the_body_with_mask_feedback(name):
    video, gt = scene(frames=14)
    tracker = TRACKERS.create(name)
    tracker.start(video.read_frame(video.frame_numbers[0]), np.array(first_box(gt[0])))
    tracker.correct(video.read_frame(video.frame_numbers[0]), gt[0].astype(bool))
    for i in range(1, 14):
        frame = video.read_frame(video.frame_numbers[i])
        track = tracker.update(frame)
        assert track is not None and 0 <= track.confidence <= 1
        assert boxes.iou(track.box, np.array(first_box(gt[i]))) > 0.5, i
        tracker.correct(frame, gt[i].astype(bool))


def test_confidence_drops_when_the_body_is_gone():
    video, gt = scene(frames=3)
    tracker = TRACKERS.create("mil")
    frame = video.read_frame(video.frame_numbers[0])
    tracker.start(frame, np.array(first_box(gt[0])))
    same = tracker.update(frame)
    grey = np.full_like(frame, 128)
    gone = tracker.update(grey)
    assert same.confidence > 0.7
    assert gone is None or gone.confidence < 0.2


def test_restarts_on_the_mask_when_they_disagree():
    video, gt = scene(frames=2)
    frame = video.read_frame(video.frame_numbers[0])
    tracker = TRACKERS.create("kcf", reinit_iou=0.5)
    tracker.start(frame, np.array([0, 0, 20, 20.0]))
    tracker.correct(frame, gt[0].astype(bool))  # the mask is elsewhere: re-anchor there
    track = tracker.update(frame)
    assert boxes.iou(track.box, np.array(first_box(gt[0]))) > 0.8
