"""Statistics of a store: per-group counts, coverage, distributions, agreement, outliers, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.datasets.base import Video
from hm_annotate.errors import HMError
from hm_annotate.stats import collect_tables, compute_stats, summarise
from hm_annotate.store import MaskStore, StoreError
from tests.mask_stores import H, W, ellipses, layer, write_store
from tests.stats.known_store import known_videos


def test_counts_per_action_type_and_athletes(store):
    r = compute_stats(store)
    assert (r["videos"], r["masks"], r["frames"], r["empty_masks"]) == (4, 36, 36, 1)
    assert r["objects"] == 35 + 8  # one object a frame, two on the pair's 8 frames, none on the empty frame
    assert r["objects_per_frame"] == {"0": 1, "1": 27, "2": 8}
    by = r["by_action_type"]
    assert list(by) == ["107b", "5253b", "405b"]  # largest first
    assert by["107b"] == pytest.approx({
        "videos": 2, "videos_with_masks": 2, "frames": 22, "masks": 22, "empty": 1, "individual": 22,
        "synchronised": 0, "coverage": 1.0, "mean_area_fraction": by["107b"]["mean_area_fraction"],
        "temporal_iou": by["107b"]["temporal_iou"],
    })  # fmt: skip
    # the pair is synchronised from its event name (no "athletes" in its metadata)
    assert by["5253b"]["synchronised"] == 8 and by["5253b"]["individual"] == 0
    assert r["athletes"] == {
        "individual": {"videos": 3, "masks": 28}, "synchronised": {"videos": 1, "masks": 8}}  # fmt: skip


def test_other_groupings(store):
    t = collect_tables(store)
    assert {k: v["masks"] for k, v in summarise(t, "split")["by_split"].items()} == {"train": 18, "test": 18}
    assert {k: v["videos"] for k, v in summarise(t, "event")["by_event"].items()} == {
        "E1": 2, "E2_Synchronised": 1, "E3": 1}  # fmt: skip
    assert summarise(t, "athletes")["by_athletes"]["synchronised"]["masks"] == 8
    with pytest.raises(HMError, match="cannot group by"):
        summarise(t, "judge")


def test_areas_boxes_and_temporal_stability_match_direct_computation(store):
    r = compute_stats(store)
    videos = known_videos()
    areas, ious = [], []
    with MaskStore.open(store) as st:
        for vid in videos:
            d = st.read(vid, "curated")
            unions = [d.union(i) for i in range(len(d))]
            areas += [a / (H * W) for a in rle.area(unions) if a > 0]
            ious += [rle.iou(x, y) for x, y in zip(unions[:-1], unions[1:])]
    assert r["area_fraction"]["mean"] == pytest.approx(np.mean(areas))
    assert r["area_fraction"]["median"] == pytest.approx(np.median(areas))
    assert r["temporal_iou"]["mean"] == pytest.approx(np.mean(ious))
    assert r["temporal_iou"]["count"] == 36 - 4
    assert r["bbox_height"]["median"] == 21.0  # ry = 10: rows cy-10 .. cy+10


def test_temporal_stability_leaves_out_pairs_of_empty_frames(tmp_path):
    m = ellipses(6)
    m[2:4] = 0
    r = compute_stats(write_store(tmp_path / "s.h5", {"E/1": {"pseudo": layer(range(6), m)}}))
    assert r["temporal_iou"]["count"] == 4  # pairs 0-1, 1-2, 3-4, 4-5; 2-3 are both empty
    assert r["temporal_iou"]["histogram"]["counts"][0] == 2  # mask -> empty and empty -> mask: IoU 0


def test_correction_coverage_and_agreement(store):
    r = compute_stats(store)
    c = r["correction"]
    assert c["frames_corrected"] == 3 and c["videos_with_corrections"] == 1
    assert c["coverage"] == pytest.approx(3 / 36)
    agree = c["pm_vs_corrected"]
    assert agree["frames_compared"] == 3 and agree["frames_changed"] == 1
    pseudo = rle.encode(ellipses(6, dx=2)[2])
    moved = rle.encode(ellipses(1, cx0=40)[0])
    assert agree["mean_iou"] == pytest.approx((2 + rle.iou(pseudo, moved)) / 3)


def test_without_temporal_iou_the_same_numbers_come_from_the_arrays_alone(store):
    full = compute_stats(store)
    light = compute_stats(store, temporal=False)
    assert light["temporal_iou"] is None
    for key in ("videos", "frames", "masks", "objects", "empty_masks", "objects_per_frame", "athletes",
                "area_fraction", "bbox_width", "correction", "outliers"):  # fmt: skip
        assert light[key] == full[key], key
    strip = {k: {**v, "temporal_iou": None} for k, v in full["by_action_type"].items()}
    assert light["by_action_type"] == strip
    for name in ("pseudo", "corrected"):
        quick = compute_stats(store, name, temporal=False)
        assert quick["masks"] == compute_stats(store, name)["masks"]


def test_a_video_without_masks_counts_with_none(tmp_path):
    path = write_store(tmp_path / "s.h5", {"E/1": {"meta": {"action_type": "107b"},
                                                   "pseudo": layer(range(4), ellipses(4))}})  # fmt: skip
    with MaskStore.open(path, "a") as st:
        st.set_metadata("E/2", {"action_type": "107b"})
    for temporal in (True, False):
        r = compute_stats(path, temporal=temporal)
        assert (r["videos"], r["videos_with_masks"], r["masks"]) == (2, 1, 4)
        assert r["by_action_type"]["107b"]["videos"] == 2


def test_layers_differ(store):
    corrected = compute_stats(store, layer="corrected")
    assert corrected["masks"] == 3 and corrected["videos_with_masks"] == 1
    # frames counted from the union of the layers: the other videos count with no masks
    assert corrected["coverage"] == pytest.approx(3 / 36)
    assert compute_stats(store, layer="pseudo")["masks"] == 36


def test_coverage_against_the_dataset_frame_counts(store):
    def video(vid, n, **meta):
        return Video(vid, tuple(range(n)), read_frame=lambda i: None, metadata=meta)

    info = [video("E1/1", 20), video("E1/2", 12), video("E2_Synchronised/1", 8), video("E3/1", 6),
            video("E9/1", 30, action_type="107b")]  # fmt: skip
    r = compute_stats(store, videos_info=info)
    assert r["frames_counted_from"] == "dataset"
    assert (r["videos"], r["videos_with_masks"], r["frames"], r["masks"]) == (5, 4, 76, 36)
    assert r["by_action_type"]["107b"]["frames"] == 62
    assert r["by_action_type"]["107b"]["coverage"] == pytest.approx(22 / 62)


def test_area_outliers(store):
    r = compute_stats(store)
    top = r["outliers"]["top"][0]
    assert (top["video_id"], top["frame"]) == ("E1/2", 56)
    assert top["z_video"] > 5


def test_bad_input(store, tmp_path):
    with pytest.raises(StoreError, match="unknown layer 'final'"):
        compute_stats(store, layer="final")
    with pytest.raises(StoreError, match="no such store"):
        compute_stats(tmp_path / "missing.h5")
    empty = tmp_path / "empty.h5"
    MaskStore.open(empty, mode="a").close()
    with pytest.raises(StoreError, match="holds no videos"):
        compute_stats(empty)
