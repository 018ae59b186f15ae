"""COCO export/import of store layers: pycocotools compatibility, round trips, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io.coco import (
    DEFAULT_FILE_NAME_PATTERN,
    CocoError,
    FileNamePattern,
    FrameNameIndex,
    FrameNames,
    export_coco,
    image_id_of,
    import_coco,
    read_frame_list,
    write_coco,
)
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks

H, W = 48, 64
SOLO, SYNC = "EventA_final/1", "EventB_sync/2"


def make_store(path: Path, metadata: dict | None = None) -> Path:
    """SOLO: 12 frames from 100, one diver, scores. SYNC: frames 7, 9, ..., 25, two divers,
    frame 15 annotated empty, and a corrected frame 9."""
    solo = ellipse_masks(12, H, W, seed=1)
    a = np.zeros((10, H, W), np.uint8)
    b = np.zeros((10, H, W), np.uint8)
    a[:, :, : W // 2] = ellipse_masks(10, H, W // 2, seed=3)
    b[:, :, W // 2 :] = ellipse_masks(10, H, W // 2, seed=5)[:, :, ::-1]
    sync = [[x, y] for x, y in zip(rle.encode_batch(a), rle.encode_batch(b))]
    sync[4] = []
    with MaskStore.open(path, mode="a") as st:
        st.put(
            SOLO,
            "pseudo",
            LayerData(
                frames=np.arange(100, 112),
                masks=[[r] for r in rle.encode_batch(solo)],
                height=H,
                width=W,
                scores=np.linspace(0.5, 0.95, 12).astype(np.float32),
            ),
            metadata=metadata or {"action_type": "107b"},
        )
        st.put(
            SYNC,
            "pseudo",
            LayerData(
                frames=np.arange(7, 27, 2),
                masks=sync,
                height=H,
                width=W,
                object_ids=[[1, 2] if objs else [] for objs in sync],
            ),
            metadata={"athletes": 2},
        )
        corrected = ellipse_masks(1, H, W, seed=9)
        st.put(
            SYNC, "corrected", LayerData(frames=[9], masks=[[rle.encode(corrected[0])]], height=H, width=W)
        )
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "masks.h5")


def snapshot(store: Path) -> dict[str, list]:
    """Every curated frame as (frame, object ids, counts)."""
    with MaskStore.open(store) as st:
        out = {}
        for vid in st.videos():
            d = st.read(vid, "curated")
            out[vid] = [
                (int(f), list(ids), [m["counts"] for m in objs])
                for f, ids, objs in zip(d.frames, d.object_ids, d.masks)
            ]
        return out


def store_bytes(store: Path) -> tuple[bytes, list[str]]:
    return store.read_bytes(), sorted(p.name for p in store.parent.iterdir() if not p.name.endswith(".lock"))


# ----------------------------------------------------------------------------- export


def test_export_loads_in_pycocotools_and_matches_the_store(store: Path, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    data = export_coco(store)
    out = write_coco(data, tmp_path / "out.json")
    coco = COCO(str(out))
    assert len(coco.getImgIds()) == 22
    assert len(coco.getAnnIds()) == 12 + 8 * 2 + 1  # SYNC: frame 9 corrected (1 object), 15 empty
    assert coco.loadCats(1)[0]["name"] == "athlete"
    with MaskStore.open(store) as st:
        for img in coco.loadImgs(coco.getImgIds()):
            assert img["file_name"] == f"{img['video_id']}/{img['frame']:05d}.jpg"
            assert (img["height"], img["width"]) == (H, W)
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            stored = st.frame(img["video_id"], "curated", img["frame"])
            assert len(anns) == len(stored)
            for ann, want in zip(anns, stored):
                assert ann["iscrowd"] == 0 and isinstance(ann["segmentation"]["counts"], str)
                np.testing.assert_array_equal(coco.annToMask(ann), rle.decode(want))
                assert ann["area"] == int(rle.area([want])[0])
                np.testing.assert_allclose(ann["bbox"], rle.bbox([want])[0], atol=0.01)
    by_frame = {(i["video_id"], i["frame"]): i["id"] for i in data["images"]}
    attrs = [a["attributes"] for a in data["annotations"] if a["image_id"] == by_frame[(SYNC, 9)]]
    assert attrs == [{"source": "corrected", "object_id": 1}]
    attrs = [a["attributes"] for a in data["annotations"] if a["image_id"] == by_frame[(SYNC, 11)]]
    assert attrs == [{"source": "pseudo", "object_id": 1}, {"source": "pseudo", "object_id": 2}]
    first = next(a for a in data["annotations"] if a["image_id"] == by_frame[(SOLO, 100)])
    assert first["attributes"] == {"source": "pseudo", "object_id": 1, "score": 0.5}
    assert not [a for a in data["annotations"] if a["image_id"] == by_frame[(SYNC, 15)]]


def test_exported_athletes_count_in_cocoeval(store: Path, tmp_path: Path) -> None:
    """Not crowd regions: COCOeval scores the export against itself as perfect, not as ignored."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    data = export_coco(store)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(write_coco(data, tmp_path / "gt.json")))
        dt = gt.loadRes([dict(a, score=1.0) for a in data["annotations"]])
        ev = COCOeval(gt, dt, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_export_selects_layers_videos_and_frames(store: Path) -> None:
    pseudo = export_coco(store, layer="pseudo", videos=[SYNC])
    assert {a["attributes"]["source"] for a in pseudo["annotations"]} == {"pseudo"}
    assert len(pseudo["images"]) == 10
    some = export_coco(store, frames={SOLO: [105, 101], SYNC: [25]})
    assert [(i["video_id"], i["frame"]) for i in some["images"]] == [(SOLO, 101), (SOLO, 105), (SYNC, 25)]
    ids = [i["id"] for i in some["images"]]
    assert [a["image_id"] for a in some["annotations"]] == [ids[0], ids[1], ids[2], ids[2]]
    full = {(i["video_id"], i["frame"]): i["id"] for i in export_coco(store)["images"]}
    assert ids == [full[(i["video_id"], i["frame"])] for i in some["images"]]  # subset and full agree
    assert ids == [image_id_of(i["video_id"], i["frame"]) for i in some["images"]]
    with pytest.raises(CocoError, match="no frame 99"):
        export_coco(store, frames={SOLO: [99]})
    with pytest.raises(CocoError, match="no video 'nope/1'"):
        export_coco(store, videos=["nope/1"])
    with pytest.raises(CocoError, match="no 'corrected' masks"):
        export_coco(store, layer="corrected", videos=[SOLO])


def test_read_frame_list(tmp_path: Path) -> None:
    queue = tmp_path / "queue.csv"
    queue.write_text("video_id,frame,reason\nA/1,5,area_jump\nA/1,3,empty\nB/2,7,x\nA/1,5,dup\n")
    assert read_frame_list(queue) == {"A/1": [3, 5], "B/2": [7]}
    queue.write_text("video,frame\nA/1,5\n")
    with pytest.raises(CocoError, match="missing column"):
        read_frame_list(queue)
    queue.write_text("video_id,frame\nA/1,five\n")
    with pytest.raises(CocoError, match="line 2: frame 'five'"):
        read_frame_list(queue)


def test_file_name_patterns_format_and_read_back() -> None:
    p = FileNamePattern("{video_id}/img_{frame:05d}.png")
    assert p.format("a/b", 7) == "a/b/img_00007.png"
    index = FrameNameIndex({"a/b": p, "a/c": p})
    assert index.lookup("a/b/img_00007.png") == ("a/b", 7)
    assert index.lookup("a/c/img_123456.png") == ("a/c", 123456)
    assert index.lookup("a/d/img_00007.png") is None
    assert index.lookup("a/b/img_00007.jpg") is None
    flat = FileNamePattern("{frame:05d}.jpg")
    assert FrameNameIndex({"a/b": flat}).lookup("00489.jpg") == ("a/b", 489)
    with pytest.raises(CocoError, match="the same file names"):
        FrameNameIndex({"a/b": flat, "a/c": flat})
    for bad, why in [
        ("{video_id}.jpg", "exactly once"),
        ("{frame}{frame}.jpg", "exactly once"),
        ("{clip}/{frame}.jpg", "unknown field"),
        ("{video_id}/{frame:s}.jpg", "file-name pattern"),
    ]:
        with pytest.raises(CocoError, match=why):
            FileNamePattern(bad)
    with pytest.raises(CocoError, match="directly follows a digit"):
        FileNamePattern("{video_id}{frame}.jpg").split("v1")


def test_dataset_frame_paths_name_frames_a_pattern_cannot() -> None:
    names = FrameNames(
        {
            "diving/001": FileNamePattern(DEFAULT_FILE_NAME_PATTERN),
            "diving/002": FileNamePattern("{frame}.jpg"),
        },
        {"diving/001": {1: "diving-out/001/img_00001.jpg", 2: "diving-out/001/img_00002.jpg"}, "other/9": {}},
    )
    assert names.name("diving/001", 2) == "diving-out/001/img_00002.jpg"
    assert names.lookup("diving-out/001/img_00002.jpg") == ("diving/001", 2)
    assert names.name("diving/002", 7) == "7.jpg" and names.lookup("0007.jpg") == ("diving/002", 7)
    assert names.lookup("diving/001/00002.jpg") is None
    with pytest.raises(CocoError, match="video 'diving/001' frame 3: the dataset has no such frame"):
        names.name("diving/001", 3)


def test_metadata_pattern_is_used_both_ways(tmp_path: Path) -> None:
    store = make_store(
        tmp_path / "m.h5", metadata={"frame_name_pattern": "diving-out/001/img_{frame:05d}.jpg"}
    )
    data = export_coco(store, videos=[SOLO])
    assert data["images"][0]["file_name"] == "diving-out/001/img_00100.jpg"
    for img in data["images"]:  # rely on the pattern alone, as a file from CVAT would
        del img["video_id"], img["frame"]
    write_coco(data, tmp_path / "m.json")
    summary = import_coco(tmp_path / "m.json", store, dry_run=True)
    assert (summary.videos, summary.unchanged) == (1, 12)


# ----------------------------------------------------------------------------- round trips


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


def _contour_polygons(mask: np.ndarray) -> list[list[float]]:
    """Polygons of a mask the way datumaro (CVAT's converter) writes them: cv2 contours with the
    TC89 approximation, every ring closed by repeating its first point."""
    import cv2

    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_TC89_KCOS)
    rings = [c.reshape(-1, 2) for c in contours if len(c) > 2]
    return [np.vstack([r, r[:1]]).reshape(-1).astype(float).tolist() for r in rings]


def as_cvat_export(data: dict, polygons: bool) -> dict:
    """A COCO file as CVAT's COCO 1.0 export writes it: no video_id/frame fields, ids from 1,
    polygons (iscrowd 0) or uncompressed RLE (iscrowd 1), only the attributes CVAT knows."""
    out = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {
            "contributor": "",
            "date_created": "",
            "description": "",
            "url": "",
            "version": "",
            "year": "",
        },
        "categories": [{"id": 1, "name": "athlete", "supercategory": ""}],
        "images": [],
        "annotations": [],
    }
    for img in data["images"]:
        out["images"].append(
            {k: img[k] for k in ("id", "width", "height", "file_name")}
            | {"license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0}
        )
    for ann in data["annotations"]:
        mask = rle.decode(ann["segmentation"])
        if polygons:
            seg, crowd = _contour_polygons(mask), 0
        else:
            flat = mask.reshape(-1, order="F")
            edges = np.flatnonzero(np.diff(flat)) + 1
            runs = np.diff(np.concatenate([[0], edges, [flat.size]])).tolist()
            seg, crowd = {"counts": ([0] if flat[0] else []) + runs, "size": list(mask.shape)}, 1
        out["annotations"].append(
            {
                "id": ann["id"],
                "image_id": ann["image_id"],
                "category_id": 1,
                "segmentation": seg,
                "area": float(ann["area"]),
                "bbox": ann["bbox"],
                "iscrowd": crowd,
                "attributes": {"occluded": False, "object_id": str(ann["attributes"]["object_id"])},
            }
        )
    return out


def diver_store(path: Path, h: int = 256, w: int = 455, n: int = 8) -> Path:
    """Two synchronised divers at FineDiving resolution: 80 x 30 pixel ellipses falling side by side."""
    yy, xx = np.mgrid[0:h, 0:w]
    t = np.arange(n)[:, None, None]
    cy = 60 + 15 * t
    divers = [((yy - cy) / 40) ** 2 + ((xx - cx) / 15) ** 2 <= 1 for cx in (180, 260)]
    masks = [[rle.encode(d[i]) for d in divers] for i in range(n)]
    with MaskStore.open(path, mode="a") as st:
        st.put(SYNC, "pseudo", LayerData(frames=np.arange(n) + 489, masks=masks, height=h, width=w))
    return path


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


# ----------------------------------------------------------------------------- bad input


def _break(data: dict, how: str) -> str:
    """Damage an exported file; returns the text the error must contain."""
    img = data["images"][3]
    ann = next(a for a in data["annotations"] if a["image_id"] == img["id"])
    where = f"image '{img['file_name']}' (video {img['video_id']}, frame {img['frame']})"
    if how == "unknown file_name":
        img["file_name"] = "elsewhere/clip/00103.jpg"
        del img["video_id"], img["frame"]
        return "image 'elsewhere/clip/00103.jpg': file name matches no video"
    if how == "size":
        img["width"] = 65
        return f"{where}: image size 48x65 does not match the video's 48x64"
    if how == "counts":
        ann["segmentation"] = {"size": [H, W], "counts": "0`:Z1!!"}
        return f"{where}: annotation {ann['id']}: "
    if how == "short counts":
        ann["segmentation"] = {"size": [H, W], "counts": [5, 7, 100]}
        return f"{where}: annotation {ann['id']}: uncompressed RLE counts sum to 112"
    if how == "polygon":
        ann["segmentation"] = [[1.0, 1.0, 5.0, 1.0, 6.0, 6.0], [3.0, 3.0, 9.0, 9.0]]
        return f"{where}: annotation {ann['id']}: polygon 1 has 2 points; a polygon needs at least 3"
    if how == "duplicate id":
        data["images"][5]["id"] = img["id"]
        other = data["images"][5]["file_name"]
        return f"image '{other}': duplicate image id {img['id']} (also in '{img['file_name']}')"
    if how == "frame outside":
        img["frame"] = 5000
        img["file_name"] = f"{img['video_id']}/05000.jpg"
        return f"image '{img['file_name']}' (video {img['video_id']}, frame 5000): frame 5000 is not a frame"
    if how == "name and fields disagree":
        name = img["file_name"]
        img["frame"] += 1
        return (
            f"image '{name}': file_name names video '{img['video_id']}' frame {img['frame'] - 1} but the "
            f"image's fields say video '{img['video_id']}' frame {img['frame']}"
        )
    if how == "frame outside by name":
        img["file_name"] = f"{SOLO}/00099.jpg"
        del img["video_id"], img["frame"]
        return f"image '{SOLO}/00099.jpg' (video {SOLO}, frame 99): frame 99 is not a frame of the video"
    if how == "rle size":
        ann["segmentation"] = rle.encode(np.zeros((H, W + 1), np.uint8))
        return f"{where}: annotation {ann['id']}: RLE size [48, 65] does not match the image 48x64"
    if how == "box only":
        ann["segmentation"] = []
        return f"{where}: annotation {ann['id']}: no segmentation"
    if how == "unknown image_id":
        ann["image_id"] = 12345
        return f"annotation {ann['id']} refers to unknown image_id 12345"
    if how == "categories":
        data["categories"] = [{"id": "one", "name": "athlete"}]
        return "'categories' must be a list of objects with integer ids"
    if how == "no athlete category":
        data["categories"] = [{"id": 1, "name": "person"}, {"id": 2, "name": "judge"}]
        return "several categories and none is named 'athlete'"
    raise AssertionError(how)


BAD = [
    "unknown file_name",
    "size",
    "counts",
    "short counts",
    "polygon",
    "duplicate id",
    "frame outside",
    "name and fields disagree",
    "frame outside by name",
    "rle size",
    "box only",
    "unknown image_id",
    "categories",
    "no athlete category",
]


@pytest.mark.parametrize("how", BAD)
def test_bad_input_is_one_clear_error_and_leaves_the_store_byte_identical(
    store: Path, tmp_path: Path, how: str
) -> None:
    data = export_coco(store)
    # a valid edit in another video, so a partial write would be visible
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != data["images"][-1]["id"]]
    expected = _break(data, how)
    path = write_coco(data, tmp_path / "bad.json")
    before = store_bytes(store)
    with pytest.raises(CocoError) as err:
        import_coco(path, store)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and expected in msg and "\n" not in msg
    assert store_bytes(store) == before


def test_unreadable_json_is_reported(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(CocoError, match="bad.json: not valid JSON"):
        import_coco(bad, store)
    bad.write_text("[]")
    with pytest.raises(CocoError, match="a COCO file is a JSON object"):
        import_coco(bad, store)


# ----------------------------------------------------------------------------- real tools' conventions


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


def test_results_file_scores_ap_1_against_a_ground_truth_export_of_another_store(
    store: Path, tmp_path: Path
) -> None:
    import contextlib
    import io
    import shutil

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from hm_annotate.io.coco import coco_results

    other = tmp_path / "copy" / "masks.h5"
    other.parent.mkdir()
    shutil.copy(store, other)
    gt_file = write_coco(export_coco(other, videos=[SYNC, SOLO]), tmp_path / "gt.json")
    results = coco_results(export_coco(store, frames={SOLO: range(100, 106), SYNC: [7, 11]}))
    res_file = write_coco(results, tmp_path / "res.json")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        dt = gt.loadRes(str(res_file))
        ev = COCOeval(gt, dt, "segm")
        ev.params.imgIds = sorted({r["image_id"] for r in results})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert len(ev.params.imgIds) == 8 and len(dt.getAnnIds()) == 6 + 4
    assert ev.stats[0] == pytest.approx(1.0)
