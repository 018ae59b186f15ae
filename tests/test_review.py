"""Review queue: broken frames rank first, each with its reasons; stored quality arrays are used."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hm_annotate.review import review_queue, write_queue
from hm_annotate.store import MaskStore, StoreError
from tests.mask_stores import ellipses, layer, write_store


def _videos():
    a = ellipses(20, dx=1)
    a[10] = ellipses(1, cx0=70, cy=36, rx=12, ry=12)[0]  # a wrong object in the corner, 2x the area
    b = ellipses(10, dx=1)
    b[3] = 0
    b_scores = np.full(10, 0.95)
    b_scores[6] = 0.2
    c = ellipses(8, dx=1)
    c[2, 2:5, 60:63] = 1  # a speck apart from the athlete
    d = ellipses(8, dx=1)
    iou_prev = np.full(8, 0.9, np.float32)
    iou_prev[[0, 4, 5]] = [np.nan, 0.0, 0.0]  # the pipeline says frame 4 agrees with neither neighbour
    runaway = np.zeros(8, np.float32)
    runaway[6] = 1  # the pipeline's runaway guard cut frame 6 back
    e = ellipses(8, dx=1)
    e[5] = ellipses(1, cx0=60, cy=10, rx=4, ry=4)[0]
    return {
        "A/1": {"pseudo": layer(range(100, 120), a, scores=np.full(20, 0.95))},
        "B/1": {"pseudo": layer(range(10), b, scores=b_scores)},
        "C/1": {"pseudo": layer(range(8), c)},
        "D/1": {"pseudo": layer(range(8), d, quality={"iou_prev": iou_prev, "runaway": runaway})},
        "E/1": {"pseudo": layer(range(8), e), "corrected": layer([5], ellipses(6, dx=1)[5:6])},
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return write_store(tmp_path_factory.mktemp("review") / "s.h5", _videos())


def _row(q, vid, frame):
    rows = q[(q["video_id"] == vid) & (q["frame"] == frame)]
    assert len(rows) == 1, (vid, frame)
    return rows.iloc[0]


def test_a_broken_frame_ranks_first_with_its_reasons(store):
    q = review_queue(store)
    first = q.iloc[0]
    assert (first["video_id"], first["frame"]) == ("A/1", 110)
    assert "IoU 0.00 with neighbours" in first["reasons"] and "area x" in first["reasons"]
    assert q["priority"].is_monotonic_decreasing


def test_each_signal_gives_its_reason(store):
    q = review_queue(store)
    assert _row(q, "B/1", 3)["reasons"].startswith("empty mask")
    assert "low score 0.20" in _row(q, "B/1", 6)["reasons"]
    assert "2 connected components" in _row(q, "C/1", 2)["reasons"]
    assert "IoU 0.00 with neighbours" in _row(q, "D/1", 4)["reasons"]  # from the stored quality array
    assert _row(q, "D/1", 6)["reasons"] == "mask cut back to the athlete's motion"
    assert _row(q, "D/1", 6)["runaway"] and not _row(q, "D/1", 7)["runaway"]
    # a clean frame in the middle of a smooth video has no reason and ranks below all of those
    clean = _row(q, "A/1", 105)
    assert clean["reasons"] == "" and clean["priority"] < _row(q, "C/1", 2)["priority"]


def test_components_can_be_left_out_and_top_keeps_the_worst(store):
    q = review_queue(store, components=False)
    assert np.isnan(_row(q, "C/1", 2)["components"])
    assert "components" not in _row(q, "C/1", 2)["reasons"]
    top = review_queue(store, top=3)
    assert len(top) == 3 and (top.iloc[0]["video_id"], top.iloc[0]["frame"]) == ("A/1", 110)


def test_corrected_frames_are_skipped_unless_asked(store):
    q = review_queue(store, videos=["E/1"])
    assert 5 not in q["frame"].tolist() and len(q) == 7
    q = review_queue(store, videos=["E/1"], skip_corrected=False)
    assert q.iloc[0]["frame"] == 5


def test_queue_csv(store, tmp_path):
    q = review_queue(store, top=5)
    write_queue(q, tmp_path / "queue.csv")
    rows = list(csv.DictReader(open(tmp_path / "queue.csv")))
    assert list(rows[0])[:4] == ["video_id", "frame", "priority", "reasons"]
    assert (rows[0]["video_id"], rows[0]["frame"]) == ("A/1", "110")
    assert len(rows) == 5


def test_bad_input(store, tmp_path):
    with pytest.raises(StoreError, match="no video 'Z/9'"):
        review_queue(store, videos=["Z/9"])
    with pytest.raises(StoreError, match="unknown layer"):
        review_queue(store, layer="gt")
    with pytest.raises(StoreError, match="has no 'corrected' layer"):
        review_queue(store, layer="corrected", videos=["A/1"])
    empty = tmp_path / "empty.h5"
    MaskStore.open(empty, mode="a").close()
    with pytest.raises(StoreError, match="holds no videos"):
        review_queue(empty)
