"""hm-annotate import-coco: summaries, dry runs, provenance, one-line errors, untouched stores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.cli import main
from hm_annotate.io.coco import export_coco, write_coco
from hm_annotate.store import MaskStore
from tests.console import run
from tests.masks import make_store

VIDEOS = {"FINADivingWorldCup2021_Men3m_final_r1/8": 5, "Ev_synchro/2": 4}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    store = tmp_path / "m.h5"
    make_store(store, VIDEOS)
    return store, write_coco(export_coco(store), tmp_path / "all.json")


def test_dry_run_then_import_through_the_console_script(exported: tuple[Path, Path]) -> None:
    store, coco = exported
    data = json.loads(coco.read_text())
    blank = np.zeros((48, 64), np.uint8)
    blank[5:9, 5:9] = 1
    data["annotations"][0]["segmentation"] = rle.encode(blank)
    coco.write_text(json.dumps(data))
    before = store.read_bytes()
    r = run("import-coco", str(coco), "--store", str(store), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "9 frames of 2 videos: 0 added, 1 changed, 8 unchanged" in r.stdout
    assert "nothing written" in r.stdout and store.read_bytes() == before
    r = run("import-coco", str(coco), "--store", str(store), "--annotator", "bob")
    assert r.returncode == 0, r.stderr
    assert f"written to layer 'corrected' of {store}" in r.stdout
    with MaskStore.open(store) as st:
        d = st.read("Ev_synchro/2", "corrected")
        assert d.frames.tolist() == [100, 101, 102, 103]
        assert d.provenance[int(d.provenance_index[0])]["user"] == "bob"
        np.testing.assert_array_equal(rle.decode(st.frame("Ev_synchro/2", "curated", 100)[0]), blank)


def test_json_summary(exported: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    store, coco = exported
    main(["import-coco", str(coco), "--store", str(store), "--json", "--changed-only"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["unchanged"] == 9 and summary["changed"] == summary["added"] == 0
    assert summary["mean_iou"] == 1.0 and summary["per_video"]["Ev_synchro/2"]["unchanged"] == 4
    with MaskStore.open(store) as st:
        assert not any(st.has(v, "corrected") for v in st.videos())


def test_bad_file_exits_1_with_one_line_and_leaves_the_store_alone(exported: tuple[Path, Path]) -> None:
    store, coco = exported
    data = json.loads(coco.read_text())
    data["annotations"][2]["segmentation"] = [[1.0, 1.0, 4.0, 4.0]]
    coco.write_text(json.dumps(data))
    image = next(i for i in data["images"] if i["id"] == data["annotations"][2]["image_id"])
    before = store.read_bytes()
    r = run("import-coco", str(coco), "--store", str(store))
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {coco}: image '{image['file_name']}'")
    assert f"(video {image['video_id']}, frame {image['frame']})" in r.stderr
    assert "polygon 0 has 2 points" in r.stderr
    assert store.read_bytes() == before and not Path(f"{store}.journal").exists()


def test_pattern_and_video_options_map_flat_names(
    exported: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    store, coco = exported
    data = json.loads(coco.read_text())
    data["images"] = [i for i in data["images"] if i["video_id"] == "Ev_synchro/2"]
    for img in data["images"]:
        img["file_name"] = f"{img.pop('frame'):05d}.jpg"
        del img["video_id"]
    kept = {i["id"] for i in data["images"]}
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in kept]
    coco.write_text(json.dumps(data))
    with pytest.raises(SystemExit):
        main(["import-coco", str(coco), "--store", str(store), "--file-name-pattern", "{frame:05d}.jpg"])
    assert "the same file names; restrict the import to one video" in capsys.readouterr().err
    main(
        [
            "import-coco",
            str(coco),
            "--store",
            str(store),
            "--file-name-pattern",
            "{frame:05d}.jpg",
            "--video",
            "Ev_synchro/2",
        ]
    )
    assert "4 frames of 1 video: 0 added, 0 changed, 4 unchanged" in capsys.readouterr().out


def test_dataset_names_frames_and_bounds_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from tests.datasets.fixtures import make_finediving

    make_finediving(tmp_path / "FineDiving", frame_size=(48, 64))
    video = "FINADivingWorldCup2021_Men3m_final_r1/8"  # frames 489..500 in the dataset
    store, coco = tmp_path / "m.h5", tmp_path / "c.json"
    make_store(store, {video: 9})  # store frames 100..108: not the dataset's numbers
    with MaskStore.open(store, "a") as st:
        d = st.read(video, "pseudo")
        d.frames = d.frames + 389  # 489..497
        st.put(video, "pseudo", d)
    ds = ["--dataset", "finediving", "--data-root", str(tmp_path / "FineDiving")]
    main(["export-coco", str(store), "--out", str(coco), *ds])
    data = json.loads(coco.read_text())
    assert data["images"][0]["file_name"] == f"{video}/00489.jpg"
    extra = dict(data["images"][0], id=100, file_name=f"{video}/00499.jpg")
    del extra["video_id"], extra["frame"]
    data["images"].append(extra)
    coco.write_text(json.dumps(data))
    with pytest.raises(SystemExit):
        main(["import-coco", str(coco), "--store", str(store)])
    assert "frame 499 is not a frame of the video (its frames: 489..497)" in capsys.readouterr().err
    main(["import-coco", str(coco), "--store", str(store), *ds])
    assert "10 frames of 1 video: 1 added, 0 changed, 9 unchanged" in capsys.readouterr().out
    with MaskStore.open(store) as st:
        assert st.frame(video, "curated", 499) == []
    with pytest.raises(SystemExit) as exited:
        main(["import-coco", str(coco), "--store", str(store), "--dataset", "finediving"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--dataset-format and --data-root go together" in err


def test_swapped_ids_are_warned_about_and_objects_have_their_iou(tmp_path: Path) -> None:
    from tests.io.coco.helpers import SYNC
    from tests.io.coco.helpers import make_store as make_sync_store

    store = make_sync_store(tmp_path / "m.h5")
    data = export_coco(store, videos=[SYNC], layer="pseudo")
    for ann in data["annotations"]:
        ann["attributes"]["object_id"] = 3 - ann["attributes"]["object_id"]
    coco = write_coco(data, tmp_path / "swapped.json")
    r = run("import-coco", str(coco), "--store", str(store), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"  {SYNC}: mean IoU per object: object 1 0.0000, object 2 0.0000" in r.stdout
    assert f"warning: {SYNC}: object ids look swapped on 9 frames (first 7)" in r.stderr
    for ann in data["annotations"]:
        del ann["attributes"]["object_id"]
    r = run("import-coco", str(write_coco(data, tmp_path / "noid.json")), "--store", str(store), "--dry-run")
    assert "9 frames had objects without object_id: ids given by IoU matching" in r.stdout
    assert "warning" not in r.stderr
