"""The pose detector on real frames: people boxed by their masks, turned frames, movers first."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.detectors import DETECTORS, background_difference
from hm_annotate.pseudo.pose_detector import _unturn
from tests.pseudo.footage import carphone, shared_clip
from tests.pseudo.scenes import scene

pytest.importorskip("ai_edge_litert")


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_unturn_maps_turned_pixels_back(turns: int):
    h, w = 5, 7
    marker = np.zeros((h, w), bool)
    marker[1, 4] = True  # x 4, y 1
    v, u = np.argwhere(np.rot90(marker, turns))[0]
    assert np.array_equal(_unturn(np.array([u, v], float), turns, h, w), [4, 1])


def test_carphone_man_is_found_and_boxed_by_his_mask():
    frame = carphone(1)[0]
    found = DETECTORS.create("pose").detect(frame, [])
    assert len(found) == 1
    x0, y0, x1, y1, score = found[0]
    assert score > 0.5
    # the man: from his shoulder at the left to the right edge, from above his head to the bottom
    assert x0 < 45 and x1 > 165 and y0 < 25 and y1 > 135
    assert boxes.area(found[0, :4]) < 0.95 * frame.shape[0] * frame.shape[1]


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turned_frames_are_searched(turns: int):
    frame = carphone(1)[0]
    detector = DETECTORS.create("pose")
    upright = detector.detect(frame, [])[0, :4]
    masks, _ = detector.people(np.ascontiguousarray(np.rot90(frame, turns)))
    assert len(masks) == 1
    back = boxes.of_mask(np.rot90(masks[0], -turns))
    assert boxes.iou(back, upright) > 0.8


def test_the_person_who_moves_ranks_above_a_still_one():
    """Two copies of the man side by side: the left one talks (frames move on), the right one is
    the same frame throughout. With the camera-compensated difference, the mover comes first."""
    clip = carphone(40)

    def pair(t: int) -> np.ndarray:
        return np.concatenate([clip[t], clip[0]], axis=1)

    frame = pair(20)
    neighbours = [pair(20 + o) for o in (-9, -6, -3, 3, 6, 9)]
    detector = DETECTORS.create("pose")
    found = detector.detect(frame, neighbours, background_difference(frame, neighbours))
    assert len(found) == 2
    width = clip[0].shape[1]
    assert boxes.center(found[0, :4])[0] < width < boxes.center(found[1, :4])[0]
    assert found[0, 4] > found[1, 4]
    assert found[1, 4] <= detector.still + 1e-6  # nothing of the still copy moved: only ``still`` is left


def test_shared_clip_people_are_found():
    frames, masks = shared_clip("lucia", [0, 30])
    detector = DETECTORS.create("pose")
    for frame, mask in zip(frames, masks):
        found = detector.detect(frame, [])
        assert len(found) >= 1
        assert boxes.iou(found[0, :4], boxes.of_mask(mask)) > 0.8


def test_where_nobody_is_found_the_fallback_detector_answers():
    """A drawn body (no face, no person to the model) moving over a panning texture: the pose
    detector finds nobody, so the motion detector's boxes are the answer."""
    video, _ = scene(frames=24)
    frames = [video.read_frame(n) for n in video.frame_numbers]
    pose = DETECTORS.create("pose", fallback_params={"max_area": 0.3})
    motion = DETECTORS.create("motion", max_area=0.3)
    around = [frames[12 + o] for o in pose.offsets if 0 <= 12 + o < len(frames)]
    background = background_difference(frames[12], around)
    assert pose.people(frames[12]) == ([], [])
    got = pose.detect(frames[12], around, background)
    assert len(got) >= 1
    assert np.array_equal(got, motion.detect(frames[12], around, background))
    assert len(DETECTORS.create("pose", fallback=None).detect(frames[12], around, background)) == 0
