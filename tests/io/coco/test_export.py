"""COCO export of store layers: pycocotools compatibility, selections, frame lists, results files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io.coco import CocoError, export_coco, image_id_of, read_frame_list, write_coco
from hm_annotate.store import MaskStore
from tests.io.coco.helpers import SOLO, SYNC, H, W


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
