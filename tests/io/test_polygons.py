"""Polygon rasterisation: validation, the two vertex conventions, and how auto picks one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io.polygons import PolygonError, polygons_to_rle


def test_coco_mode_is_continuous_coordinates() -> None:
    square = rle.decode(polygons_to_rle([[2.0, 2.0, 6.0, 2.0, 6.0, 6.0, 2.0, 6.0]], 10, 12, mode="coco"))
    assert square.shape == (10, 12) and square.sum() == 16 and square[2:6, 2:6].all()


def test_contour_mode_inverts_cv2_contours() -> None:
    mask = np.zeros((40, 50), np.uint8)
    cv2.ellipse(mask, (20, 18), (12, 7), 30, 0, 360, 1, -1)
    mask[30:36, 5:45] = 1
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    rings = [c.reshape(-1).tolist() for c in contours]
    np.testing.assert_array_equal(rle.decode(polygons_to_rle(rings, 40, 50, mode="contour")), mask)
    # pycocotools reads the same vertices as continuous coordinates and loses the right/bottom border
    assert rle.decode(polygons_to_rle(rings, 40, 50, mode="coco")).sum() < mask.sum()


def test_auto_picks_contour_for_integer_vertices_and_coco_otherwise() -> None:
    ints = [[2, 2, 6, 2, 6, 6, 2, 6]]
    assert rle.decode(polygons_to_rle(ints, 10, 10)).sum() == 25
    floats = [[2.0, 2.0, 6.0, 2.0, 6.0, 6.5, 2.0, 6.5]]
    assert polygons_to_rle(floats, 10, 10) == polygons_to_rle(floats, 10, 10, mode="coco")


def test_rings_of_one_object_are_merged() -> None:
    two = [[0, 0, 3, 0, 3, 3, 0, 3], [10.5, 10.5, 14.5, 10.5, 14.5, 14.5]]
    mask = rle.decode(polygons_to_rle(two, 20, 20, mode="coco"))
    assert mask[:3, :3].all() and mask[11:14, 13].any() and mask.sum() > 9


@pytest.mark.parametrize(
    ("rings", "why"),
    [
        ([], "non-empty list"),
        ([[1, 1, 5, 1]], "polygon 0 has 2 points; a polygon needs at least 3"),
        ([[1, 1, 5, 1, 5, 5], [1, 2, 3]], "polygon 1 has an odd number of coordinates"),
        ([[1, 1, 5, "x", 5, 5]], "non-numeric"),
        ([[1, 1, 5, float("nan"), 5, 5]], "non-finite"),
        ([{"counts": "x"}], "not a list of coordinates"),
        ([[True, 1, 5, 1, 5, 5]], "non-numeric"),
    ],
)
def test_bad_polygons_are_rejected_before_pycocotools(rings: list, why: str) -> None:
    with pytest.raises(PolygonError, match=why):
        polygons_to_rle(rings, 10, 10)
    with pytest.raises(PolygonError, match="unknown polygon mode"):
        polygons_to_rle([[1, 1, 5, 1, 5, 5]], 10, 10, mode="pixels")
