from __future__ import annotations

import numpy as np

from hm_annotate.pseudo import boxes


def test_iou_clip_inside_expand():
    a = np.array([0, 0, 10, 10.0])
    b = np.array([5, 0, 15, 10.0])
    assert boxes.iou(a, b) == 50 / 150
    assert boxes.clip(np.array([-5, -5, 20, 8.0]), 10, 12).tolist() == [0, 0, 12, 8]
    assert boxes.inside_fraction(np.array([-10, 0, 10, 10.0]), 10, 10) == 0.5
    assert boxes.inside_fraction(np.array([20, 20, 30, 30.0]), 10, 10) == 0.0
    assert boxes.expand(a, 0.1).tolist() == [-1, -1, 11, 11]


def test_pad_gives_a_flat_box_room_in_its_short_direction():
    square = np.array([0, 0, 10, 10.0])
    assert boxes.pad(square, 0.1).tolist() == boxes.expand(square, 0.1).tolist()
    flat = np.array([0, 0, 40, 10.0])  # mean side 20
    assert boxes.pad(flat, 0.25).tolist() == [-10, -5, 50, 15]
    assert boxes.pad(np.array([5, 5, 5, 9.0]), 0.5).tolist() == [5, 3, 5, 11]  # degenerate: own sides


def test_of_mask_and_xywh():
    m = np.zeros((10, 12), bool)
    assert boxes.of_mask(m) is None
    m[2:5, 3:9] = True
    assert boxes.of_mask(m).tolist() == [3, 2, 9, 5]
    assert boxes.to_xywh(np.array([3, 2, 9, 5.0]), 10, 12) == (3, 2, 6, 3)
    assert boxes.to_xywh(np.array([11.6, 9.7, 30, 30]), 10, 12) == (11, 9, 1, 1)
    assert boxes.from_xywh((3, 2, 6, 3)).tolist() == [3, 2, 9, 5]
