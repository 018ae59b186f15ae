"""YouTube-VIS export/import: the 2019/2021 layout, exact round trips, identity without object_id."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from hm_annotate import rle
from hm_annotate.cli import main
from hm_annotate.io.coco import CocoError, write_coco
from hm_annotate.io.ytvis import export_ytvis, import_ytvis, video_id_of
from hm_annotate.store import MaskStore
from tests.io.coco.helpers import SOLO, SYNC, make_store, snapshot


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "masks.h5")


def test_export_has_the_youtube_vis_layout(store: Path) -> None:
    data = export_ytvis(store)
    assert [c["name"] for c in data["categories"]] == ["athlete"]
    videos = {v["name"]: v for v in data["videos"]}
    sync = videos[SYNC]
    assert sync["id"] == video_id_of(SYNC) and sync["length"] == 10 == len(sync["file_names"])
    assert sync["file_names"][0] == f"{SYNC}/00007.jpg" and (sync["height"], sync["width"]) == (48, 64)
    tracks = [a for a in data["annotations"] if a["video_id"] == sync["id"]]
    assert [a["object_id"] for a in tracks] == [1, 2]
    with MaskStore.open(store) as st:
        curated = st.read(SYNC, "curated")
    for a in tracks:
        assert len(a["segmentations"]) == len(a["areas"]) == len(a["bboxes"]) == 10
        for k, seg in enumerate(a["segmentations"]):
            objs = dict(zip(curated.object_ids[k], curated.masks[k]))
            if a["object_id"] not in objs:
                assert seg is None and a["areas"][k] is None and a["bboxes"][k] is None
                continue
            # what YouTube-VIS readers do with a compressed RLE: hand it to pycocotools
            decoded = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()})
            np.testing.assert_array_equal(decoded, rle.decode(objs[a["object_id"]]))
            assert a["areas"][k] == int(decoded.sum())
    frame15 = sync["frames"].index(15)
    assert all(a["segmentations"][frame15] is None for a in tracks)  # athlete-free frame
    assert tracks[1]["segmentations"][sync["frames"].index(9)] is None  # corrected: one diver


def test_round_trip_is_exact_through_the_cli(store: Path, tmp_path: Path) -> None:
    before = snapshot(store)
    out = tmp_path / "vis.json"
    main(["export-ytvis", str(store), "--out", str(out)])
    (tmp_path / "fresh").mkdir()
    fresh = make_store(tmp_path / "fresh" / "masks.h5")
    with MaskStore.open(fresh, "a") as st:
        st.delete(SYNC, "corrected")  # a store that has not seen the correction
    main(["import-ytvis", str(out), "--store", str(fresh)])
    assert snapshot(fresh) == before
    summary = import_ytvis(out, store)
    assert (summary.unchanged, summary.changed, summary.added, summary.id_swaps) == (22, 0, 0, 0)


def test_tracks_without_object_id_keep_their_ids(store: Path, tmp_path: Path) -> None:
    """As other VIS tools write it: no object_id, no name/frames fields, tracks in another order."""
    with MaskStore.open(store, "a") as st:
        st.delete(SYNC, "corrected")
    before = snapshot(store)
    data = export_ytvis(store, videos=[SYNC], layer="pseudo")
    for v in data["videos"]:
        del v["name"], v["frames"]
    for a in data["annotations"]:
        del a["object_id"]
    data["annotations"].reverse()
    summary = import_ytvis(write_coco(data, tmp_path / "noid.json"), store, layer="pseudo")
    assert summary.unchanged == 10 and summary.matched_frames == 9 and summary.id_swaps == 0
    assert snapshot(store) == before


def test_bad_file_is_one_error_and_changes_nothing(store: Path, tmp_path: Path) -> None:
    data = export_ytvis(store)
    bad = copy.deepcopy(data)
    bad["annotations"][-1]["segmentations"].pop()
    path = write_coco(bad, tmp_path / "bad.json")
    before = store.read_bytes()
    with pytest.raises(CocoError, match="'segmentations' must hold one entry per file name"):
        import_ytvis(path, store)
    bad = copy.deepcopy(data)
    bad["videos"][0]["frames"][0] += 1  # the name says another frame
    with pytest.raises(CocoError, match="file_name names video"):
        import_ytvis(write_coco(bad, tmp_path / "bad2.json"), store)
    (tmp_path / "coco.json").write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(CocoError, match="'videos' must be a list"):
        import_ytvis(tmp_path / "coco.json", store)
    assert store.read_bytes() == before
    assert SOLO in {v["name"] for v in data["videos"]}
