"""One frame-number rule for every folder reader: a table of awkward names."""

from __future__ import annotations

import pytest

from hm_annotate.frame_names import frame_number, is_image


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("00489.jpg", 489),
        ("img_00001.jpg", 1),
        ("cam2_00489.jpg", 489),
        ("00489_mask.png", 489),
        ("frame-0007.v2.PNG", 2),  # the stem is "frame-0007.v2": its last digits win
        ("0.jpg", 0),
        ("clip/00012.jpeg", 12),
        ("dir2/frame.png", None),
        ("mask.png", None),
        ("000000000000000000000123.jpg", 123),
    ],
)
def test_frame_number(name: str, number: int | None) -> None:
    assert frame_number(name) == number


@pytest.mark.parametrize(
    ("name", "image"),
    [("a.jpg", True), ("a.JPEG", True), ("a.bmp", True), ("a.png", True), (".a.png", False),
     ("a.gif", False), ("a.jpg.txt", False), (".png", False)],
)
def test_is_image(name: str, image: bool) -> None:
    assert is_image(name) is image
