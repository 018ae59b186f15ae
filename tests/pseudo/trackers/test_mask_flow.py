from __future__ import annotations

import cv2
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.trackers.mask_flow import MaskFlowTracker
from tests.pseudo.scenes import first_box, scene


@pytest.mark.parametrize(("method", "per_frame", "gain"), [("lk", 0.6, 0.2), ("farneback", 0.5, 0.02)])
def test_moves_the_mask_with_the_body(method, per_frame, gain):
    """The moved mask matches the next frame better than the unmoved one (the body also turns and
    changes shape, which a similarity transform cannot follow, hence the modest bounds)."""
    video, gt = scene(frames=10)
    tracker = MaskFlowTracker(method=method)
    f0 = video.read_frame(video.frame_numbers[0])
    tracker.start(f0, np.array(first_box(gt[0])))
    tracker.correct(f0, gt[0].astype(bool))
    moved, still = [], []
    for i in range(1, 10):
        frame = video.read_frame(video.frame_numbers[i])
        track = tracker.update(frame)
        assert track is not None and track.mask is not None and 0 < track.confidence <= 1
        moved.append(rle.iou(rle.encode(track.mask), rle.encode(gt[i])))
        still.append(rle.iou(rle.encode(gt[i - 1]), rle.encode(gt[i])))
        assert moved[-1] > per_frame, i
        assert boxes.iou(track.box, np.array(first_box(gt[i]))) > per_frame, i
        tracker.correct(frame, gt[i].astype(bool))
    assert np.mean(moved) > np.mean(still) + gain


def test_a_blank_frame_loses_the_target():
    video, gt = scene(frames=2)
    f0 = video.read_frame(video.frame_numbers[0])
    tracker = MaskFlowTracker()
    tracker.start(f0, np.array(first_box(gt[0])))
    tracker.correct(f0, gt[0].astype(bool))
    assert tracker.update(np.zeros_like(f0)) is None


def test_unknown_method():
    with pytest.raises(ValueError, match="lk"):
        MaskFlowTracker(method="dis")


def test_a_zoom_beyond_max_scale_step_moves_the_mask_by_the_median_flow_only():
    """A 1.5x zoom of the whole picture in one frame is not believed: the box keeps its size."""
    rng = np.random.default_rng(0)
    texture = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    texture = np.ascontiguousarray(np.repeat(np.repeat(texture[::4, ::4], 4, 0), 4, 1))
    mask = np.zeros((120, 160), bool)
    mask[40:80, 60:100] = True
    zoomed = cv2.resize(texture[20:100, 27:133], (160, 120), interpolation=cv2.INTER_LINEAR)
    for step, grows in ((2.0, True), (1.25, False)):
        tracker = MaskFlowTracker(max_scale_step=step)
        tracker.start(texture, np.array([60, 40, 100, 80.0]))
        tracker.correct(texture, mask)
        track = tracker.update(zoomed)
        assert track is not None
        area = boxes.area(track.box)
        assert (area > 1.8 * 40 * 40) == grows, (step, area)
