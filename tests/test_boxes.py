"""Actor boxes: xywh -> corners, gap filling, smoothing and padding on known inputs, store export."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hm_annotate.boxes import (
    fill_empty,
    iter_store_boxes,
    pad_boxes,
    smooth,
    touches_border,
    write_csv,
    write_json,
    xywh_to_xyxy,
)
from hm_annotate.errors import HMError
from hm_annotate.store import MaskStore, StoreError
from tests.mask_stores import H, W, ellipses, layer, write_store


def test_xywh_to_xyxy():
    assert xywh_to_xyxy([[2, 3, 10, 20]]).tolist() == [[2, 3, 12, 23]]


def test_fill_empty_interpolates_inside_and_holds_at_the_ends():
    z = [0, 0, 0, 0]
    boxes = np.array([z, [10, 10, 20, 20], z, z, [40, 10, 50, 20], z], float)
    empty = np.array([1, 0, 1, 1, 0, 1], bool)
    out = fill_empty(boxes, empty, (H, W))
    assert out[0].tolist() == [10, 10, 20, 20]
    assert out[2].tolist() == [20, 10, 30, 20]
    assert out[3].tolist() == [30, 10, 40, 20]
    assert out[5].tolist() == [40, 10, 50, 20]


def test_fill_empty_of_a_video_without_any_mask_is_the_whole_frame():
    out = fill_empty(np.zeros((3, 4)), np.ones(3, bool), (48, 80))
    assert out.tolist() == [[0, 0, 80, 48]] * 3


def test_smooth_median_removes_a_one_frame_spike_and_mean_averages():
    x0 = np.array([10, 11, 12, 40, 14, 15, 16], float)
    boxes = np.stack([x0, x0, x0 + 5, x0 + 5], axis=1)
    med = smooth(boxes, 3, method="median")
    assert med[:, 0].tolist() == [10.5, 11, 12, 14, 15, 15, 15.5]
    mean = smooth(boxes, 3, method="mean")
    assert mean[1, 0] == pytest.approx((10 + 11 + 12) / 3)
    assert mean[0, 0] == pytest.approx(10.5)  # the window shrinks at the ends
    assert smooth(boxes, 1).tolist() == boxes.tolist()


def test_smooth_even_window_and_bad_arguments():
    boxes = np.arange(5, dtype=float)[:, None].repeat(4, axis=1)
    # k=4: one frame before, two after
    assert smooth(boxes, 4, method="mean")[0, 0] == pytest.approx((0 + 1 + 2) / 3)
    with pytest.raises(HMError, match="at least 1"):
        smooth(boxes, 0)
    with pytest.raises(HMError, match="unknown smoothing method"):
        smooth(boxes, 3, method="mode")


def test_pad_pixels_percent_and_clipping():
    boxes = np.array([[10.0, 10.0, 30.0, 20.0], [0.0, 0.0, 80.0, 48.0]])
    assert pad_boxes(boxes, "2", (48, 80)).tolist() == [[8, 8, 32, 22], [0, 0, 80, 48]]
    assert pad_boxes(boxes, "10%", (48, 80))[0].tolist() == [8, 9, 32, 21]
    with pytest.raises(HMError, match="padding"):
        pad_boxes(boxes, "-3", (48, 80))
    with pytest.raises(HMError, match="padding"):
        pad_boxes(boxes, "abc", (48, 80))


@pytest.fixture
def store(tmp_path):
    m = ellipses(8, cx0=20, dx=2)
    m[3] = 0  # the athlete is lost on frame 3
    a, b = ellipses(8, cx0=15), ellipses(8, cx0=60)
    return write_store(tmp_path / "s.h5", {
        "ev/1": {"meta": {"action_type": "107b"}, "pseudo": layer(range(100, 108), m)},
        "ev/2": {"meta": {"athletes": 2}, "pseudo": layer(range(8), a, b)},
    })  # fmt: skip


def test_store_boxes_are_the_union_of_the_athletes_and_fill_lost_frames(store):
    got = {vb.video_id: vb for vb in iter_store_boxes(store, "pseudo")}
    one, two = got["ev/1"], got["ev/2"]
    assert one.frames.tolist() == list(range(100, 108))
    assert one.empty.tolist() == [False, False, False, True, False, False, False, False]
    # ellipse rx=6 around cx=20+2i covers x in [cx-6, cx+6]: box x0 = cx-6, x1 = cx+7 (exclusive)
    assert one.boxes[0].tolist() == [14, 14, 27, 35]
    assert one.boxes[3].tolist() == pytest.approx([20, 14, 33, 35])  # between frames 2 and 4
    # two athletes: the box spans both
    assert two.boxes[0].tolist() == [9, 14, 67, 35]


def test_store_boxes_written_as_csv_and_json(store, tmp_path):
    n = write_csv(iter_store_boxes(store, "pseudo", k=3), tmp_path / "b.csv")
    rows = list(csv.DictReader(open(tmp_path / "b.csv")))
    assert n == len(rows) == 16
    assert list(rows[0]) == ["video_id", "frame", "x0", "y0", "x1", "y1", "empty"]
    assert rows[3]["empty"] == "1" and rows[0]["empty"] == "0"
    # smoothing over 3 frames of a box moving 2 px a frame leaves inner frames on the line
    assert float(rows[1]["x0"]) == 16.0
    write_json(iter_store_boxes(store, "pseudo", pad="1"), tmp_path / "b.json", "pseudo", 1,
               "median", "1")  # fmt: skip
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["videos"]["ev/1"]["boxes"][0] == [13, 13, 28, 36]
    assert doc["videos"]["ev/2"]["size"] == [H, W]


def test_store_boxes_bad_input(store, tmp_path):
    with pytest.raises(StoreError, match="no video 'nope'"):
        list(iter_store_boxes(store, "pseudo", videos=["nope"]))
    with pytest.raises(StoreError, match="unknown layer"):
        list(iter_store_boxes(store, "final"))
    with pytest.raises(StoreError, match="no video has a 'corrected' layer"):
        list(iter_store_boxes(store, "corrected"))
    with pytest.raises(StoreError, match="no such store"):
        list(iter_store_boxes(tmp_path / "missing.h5"))
    MaskStore.open(tmp_path / "empty.h5", mode="a").close()
    with pytest.raises(StoreError, match="holds no videos"):
        list(iter_store_boxes(tmp_path / "empty.h5"))


def test_touches_border_from_boxes():
    boxes = np.array([[0, 5, 10, 10], [5, 5, 10, 10], [70, 5, 10, 10], [5, 5, 10, 43], [0, 0, 0, 0]])
    hit = touches_border(boxes, 48, 80, area=np.array([1, 1, 1, 1, 0]))
    assert hit.tolist() == [True, False, True, True, False]
