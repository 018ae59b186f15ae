"""Object identity on import: Hungarian matching by IoU, spare ids, swap detection."""

from __future__ import annotations

import numpy as np

from hm_annotate import rle
from hm_annotate.io.identity import assign_ids, best_pairs, iou_matrix


def box(top: int, left: int, size: int = 8) -> dict:
    m = np.zeros((32, 48), np.uint8)
    m[top : top + size, left : left + size] = 1
    return rle.encode(m)


def test_iou_matrix_and_best_pairs() -> None:
    a, b, c = box(0, 0), box(0, 4), box(20, 30)
    iou = iou_matrix([a, c], [c, b])
    np.testing.assert_allclose(iou, [[0.0, 32 / 96], [1.0, 0.0]])
    assert best_pairs(iou) == [(0, 1), (1, 0)]
    assert best_pairs(np.zeros((2, 2))) == []  # no overlap is no match
    assert iou_matrix([], [a]).shape == (0, 1)


def test_objects_without_ids_take_the_ids_they_overlap_and_new_ones_the_lowest_free() -> None:
    left, right, far = box(2, 2), box(2, 30), box(22, 16)
    found = assign_ids([right, left], [None, None], [left, right], [1, 2])
    assert found.ids == [2, 1] and found.matched and not found.swapped
    # a new athlete and a moved one: the moved one keeps 2 (overlap), the new one gets 1
    found = assign_ids([far, box(3, 31)], [None, None], [left, right], [1, 2])
    assert found.ids == [1, 2]
    # a given id is kept and claims its current object; the loose one takes another
    found = assign_ids([left, right], [2, None], [left, right], [1, 2])
    assert found.ids == [2, 1] and found.swapped  # id 2 given to the mask of current object 1


def test_no_current_objects_numbers_from_one() -> None:
    found = assign_ids([box(0, 0), box(20, 20)], [None, None], [], [])
    assert found.ids == [1, 2] and found.matched and not found.swapped
    assert assign_ids([box(0, 0)], [5], [], []).ids == [5]
