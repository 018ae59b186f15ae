"""COCO import into a store: round trips, edits, CVAT polygons and RLE, object ids, empty masks."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io.coco import CocoError, export_coco, import_coco, write_coco
from hm_annotate.store import LayerData, MaskStore
from tests.io.coco.helpers import SOLO, SYNC, H, W, as_cvat_export, diver_store, snapshot, store_bytes
from tests.masks import ellipse_masks


def test_round_trip_without_edits_changes_no_mask(store: Path, tmp_path: Path) -> None:
    before = snapshot(store)
    write_coco(export_coco(store), tmp_path / "rt.json")
    summary = import_coco(tmp_path / "rt.json", store, annotator="alice")
    assert (summary.added, summary.changed, summary.unchanged, summary.mean_iou) == (0, 0, 22, 1.0)
    assert summary.written and summary.videos == 2
    assert snapshot(store) == before
    with MaskStore.open(store) as st:
        corrected = st.read(SOLO, "corrected")
        assert corrected.frames.tolist() == list(range(100, 112))
        prov = corrected.provenance[int(corrected.provenance_index[0])]
        assert prov["user"] == "alice" and prov["source"] == str((tmp_path / "rt.json").resolve())
        assert prov["tool"] == "hm-annotate import-coco" and prov["time"].endswith("Z")
        assert np.isnan(corrected.scores).all()


def test_edits_show_up_in_corrected_and_curated(store: Path, tmp_path: Path) -> None:
    data = export_coco(store)
    ids = {(i["video_id"], i["frame"]): i["id"] for i in data["images"]}
    square = np.zeros((H, W), np.uint8)
    square[10:30, 20:40] = 1
    edited = next(a for a in data["annotations"] if a["image_id"] == ids[(SOLO, 103)])
    edited["segmentation"] = rle.encode(square)
    added_obj = np.zeros((H, W), np.uint8)
    added_obj[40:46, 2:8] = 1
    data["annotations"].append(
        {
            "id": 999,
            "image_id": ids[(SOLO, 104)],
            "category_id": 1,
            "segmentation": rle.encode(added_obj),
            "iscrowd": 1,
            "bbox": [2, 40, 6, 6],
            "area": 36,
        }
    )
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != ids[(SYNC, 21)]]
    write_coco(data, tmp_path / "edited.json")
    summary = import_coco(tmp_path / "edited.json", store)
    assert (summary.added, summary.changed, summary.unchanged) == (0, 3, 19)
    assert 0 < summary.mean_iou < 1
    assert summary.per_video[SOLO]["changed"] == 2 and summary.per_video[SYNC]["changed"] == 1
    with MaskStore.open(store) as st:
        for layer in ("corrected", "curated"):
            np.testing.assert_array_equal(rle.decode(st.frame(SOLO, layer, 103)[0]), square)
            objs = st.frame(SOLO, layer, 104)
            assert len(objs) == 2
            np.testing.assert_array_equal(rle.decode(objs[1]), added_obj)
            assert st.frame(SYNC, layer, 21) == []
        assert st.read(SOLO, "curated").object_ids[4] == [1, 2]


def test_polygon_only_file_as_cvat_writes_it_imports_close_to_the_original(tmp_path: Path) -> None:
    store = diver_store(tmp_path / "divers.h5")
    before = snapshot(store)[SYNC]
    (tmp_path / "poly.json").write_text(json.dumps(as_cvat_export(export_coco(store), polygons=True)))
    summary = {
        mode: import_coco(tmp_path / "poly.json", store, dry_run=True, polygon_mode=mode)
        for mode in ("coco", "contour")
    }
    assert summary["contour"].mean_iou > summary["coco"].mean_iou
    auto = import_coco(tmp_path / "poly.json", store)
    assert auto.images == 8 and auto.mean_iou == summary["contour"].mean_iou > 0.95
    with MaskStore.open(store) as st:
        after = st.read(SYNC, "corrected")
        for i, (frame, ids, counts) in enumerate(before):
            assert after.frames[i] == frame and after.object_ids[i] == ids == [1, 2]
            for old, new in zip(counts, after.masks[i]):
                assert rle.iou({"size": [after.height, after.width], "counts": old}, new) > 0.95


def test_small_masks_from_cvat_polygons_keep_their_objects(store: Path, tmp_path: Path) -> None:
    before = snapshot(store)
    (tmp_path / "poly.json").write_text(json.dumps(as_cvat_export(export_coco(store), polygons=True)))
    summary = import_coco(tmp_path / "poly.json", store)
    assert summary.images == 22 and summary.mean_iou > 0.8
    with MaskStore.open(store) as st:
        for vid, frames in before.items():
            after = st.read(vid, "curated")
            assert [(f, ids) for f, ids, _ in frames] == list(zip(after.frames.tolist(), after.object_ids))


def test_uncompressed_rle_from_cvat_round_trips_exactly(store: Path, tmp_path: Path) -> None:
    before = snapshot(store)
    (tmp_path / "u.json").write_text(json.dumps(as_cvat_export(export_coco(store), polygons=False)))
    summary = import_coco(tmp_path / "u.json", store, changed_only=True)
    assert (summary.changed, summary.unchanged) == (0, 22)
    assert snapshot(store) == before
    with MaskStore.open(store) as st:  # changed_only: nothing new was verified, corrected unchanged
        assert st.read(SYNC, "corrected").frames.tolist() == [9]
        assert not st.has(SOLO, "corrected")


def test_parts_sharing_an_object_id_are_one_object(store: Path, tmp_path: Path) -> None:
    data = export_coco(store, frames={SOLO: [106]})
    ann = data["annotations"][0]
    mask = rle.decode(ann["segmentation"])
    left, right = mask.copy(), mask.copy()
    left[:, W // 2 :] = 0
    right[:, : W // 2] = 0
    extra = np.zeros_like(mask)
    extra[0:4, 0:4] = 1
    parts = [(left, 2), (right, 2), (extra, None)]
    data["annotations"] = [
        dict(ann, id=k + 1, segmentation=rle.encode(m), attributes={} if oid is None else {"object_id": oid})
        for k, (m, oid) in enumerate(parts)
    ]
    write_coco(data, tmp_path / "parts.json")
    import_coco(tmp_path / "parts.json", store)
    with MaskStore.open(store) as st:
        d = st.read(SOLO, "corrected")
        assert d.object_ids[0] == [1, 2]
        np.testing.assert_array_equal(rle.decode(d.masks[0][1]), mask)
        np.testing.assert_array_equal(rle.decode(d.masks[0][0]), extra)


def test_dry_run_other_categories_and_known_frames(store: Path, tmp_path: Path) -> None:
    data = export_coco(store, videos=[SOLO])
    data["categories"].append({"id": 2, "name": "judge", "supercategory": ""})
    data["annotations"].append(dict(copy.deepcopy(data["annotations"][0]), id=500, category_id=2))
    data["images"].append(dict(data["images"][0], id=99, frame=112, file_name=f"{SOLO}/00112.jpg"))
    write_coco(data, tmp_path / "x.json")
    before = store_bytes(store)
    with pytest.raises(CocoError, match="frame 112 is not a frame of the video"):
        import_coco(tmp_path / "x.json", store, dry_run=True)
    summary = import_coco(tmp_path / "x.json", store, dry_run=True, known_frames={SOLO: range(100, 120)})
    assert (summary.added, summary.unchanged, summary.ignored_annotations) == (1, 12, 1)
    assert not summary.written and store_bytes(store) == before


def test_empty_masks_are_never_annotations_and_athlete_free_frames_count_alike(tmp_path: Path) -> None:
    """pseudo-label used to store a lost athlete as an empty mask; corrections store no object.
    Both read as a frame without objects, export as an image without annotations, and count the
    same in info."""
    from hm_annotate.store import summarise

    masks = ellipse_masks(4, H, W, seed=2)
    blank = rle.empty((H, W))
    objs = [[rle.encode(masks[0])], [blank], [rle.encode(masks[2]), blank], []]
    path = tmp_path / "m.h5"
    old = LayerData(frames=[0, 1, 2, 3], masks=objs, height=H, width=W)
    assert [len(o) for o in old.masks] == [1, 0, 1, 0] and old.object_ids == [[1], [], [1], []]
    old.masks, old.object_ids = objs, [[1], [1], [1, 2], []]  # as stores written before the rule hold
    with MaskStore.open(path, "a") as st:
        st.put("v/1", "pseudo", old)
    with MaskStore.open(path) as st:
        assert st.object_counts("v/1", "pseudo")[1].tolist() == [1, 0, 2, 0]  # 2: mixed frames stay as stored
        assert st.frame("v/1", "pseudo", 1) == [] and len(st.frame("v/1", "pseudo", 2)) == 1
        d = st.read("v/1", "pseudo")
        assert [len(o) for o in d.masks] == [1, 0, 1, 0] and d.object_ids == [[1], [], [1], []]
        assert summarise(st)["layers"]["pseudo"]["empty_frames"] == 2
    data = export_coco(path)
    assert len(data["images"]) == 4 and len(data["annotations"]) == 2
    assert all(a["area"] > 0 and a["bbox"][2] > 0 for a in data["annotations"])
    # an old export with an empty annotation imports as an athlete-free frame, like no annotation
    data["annotations"].append(dict(data["annotations"][0], id=77, image_id=data["images"][1]["id"],
                                    segmentation=blank, area=0, bbox=[0, 0, 0, 0]))
    summary = import_coco(write_coco(data, tmp_path / "c.json"), path)
    assert summary.unchanged == 4
    with MaskStore.open(path) as st:
        assert [len(o) for o in st.read("v/1", "corrected").masks] == [1, 0, 1, 0]
        assert summarise(st)["layers"]["corrected"]["empty_frames"] == 2


def _swap_without_ids(data: dict) -> dict:
    """The file as a tool without the object_id attribute writes it: objects in reverse order."""
    data = copy.deepcopy(data)
    for ann in data["annotations"]:
        del ann["attributes"]
    data["annotations"].reverse()
    return data


def test_swapped_divers_without_object_id_come_back_with_their_ids(store: Path, tmp_path: Path) -> None:
    before = snapshot(store)
    data = _swap_without_ids(export_coco(store, videos=[SYNC]))
    summary = import_coco(write_coco(data, tmp_path / "noid.json"), store)
    assert summary.unchanged == 10 and summary.id_swaps == 0
    assert summary.matched_frames == 9  # frame 15 has no object
    assert summary.per_video[SYNC]["object_iou"] == {1: 1.0, 2: 1.0}
    assert snapshot(store)[SYNC] == before[SYNC]


def test_swapped_object_ids_are_reported(store: Path, tmp_path: Path) -> None:
    data = export_coco(store, videos=[SYNC], layer="pseudo")
    for ann in data["annotations"]:
        ann["attributes"]["object_id"] = 3 - ann["attributes"]["object_id"]
    summary = import_coco(write_coco(data, tmp_path / "swapped.json"), store, dry_run=True)
    assert summary.id_swaps == 9  # every frame with two divers (frame 15 has none)
    assert summary.per_video[SYNC]["swapped_frames"][:2] == [7, 9]
    assert summary.per_video[SYNC]["object_iou"] == {1: 0.0, 2: 0.0}  # the union alone hides it:
    assert summary.mean_iou > 0.9
