"""hm-annotate export-cvat: zips CVAT's COCO 1.0 importer accepts, and the way back."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from hm_annotate.cli import main
from hm_annotate.io.cvat import ANNOTATIONS_NAME
from hm_annotate.store import MaskStore
from tests.console import run
from tests.io.coco.helpers import as_cvat_export
from tests.masks import make_store

VIDEO = "FINADivingWorldCup2021_Men3m_final_r1/8"


def _dataset(tmp_path: Path) -> tuple[Path, Path]:
    """A store of two videos and a FineDiving-style frames folder for them."""
    store, frames = tmp_path / "m.h5", tmp_path / "FINADiving_MTL_256s"
    make_store(store, {VIDEO: 5, "Other/1": 3})
    for vid, n in ((VIDEO, 5), ("Other/1", 3)):
        (frames / vid).mkdir(parents=True)
        for f in range(100, 100 + n):
            rgb = np.full((48, 64, 3), f % 256, np.uint8)
            cv2.imwrite(str(frames / vid / f"{f:05d}.jpg"), rgb)
    return store, frames


def test_task_zips_match_by_name_and_come_back_unchanged(tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    store, frames = _dataset(tmp_path)
    out = tmp_path / "task.zip"
    r = run("export-cvat", str(store), "--video", VIDEO, "--frames-root", str(frames), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "wrote 5 masks of 5 frames" in r.stdout and '"name": "athlete"' in r.stdout
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == [ANNOTATIONS_NAME]
        zf.extract(ANNOTATIONS_NAME, tmp_path)
    ann_file = tmp_path / ANNOTATIONS_NAME
    coco = COCO(str(ann_file))
    names = [i["file_name"] for i in coco.loadImgs(coco.getImgIds())]
    assert names == [f"{VIDEO}/{f:05d}.jpg" for f in range(100, 105)]
    with zipfile.ZipFile(tmp_path / "task_images.zip") as zf:
        assert zf.namelist() == names
        assert all(zf.read(n) == (frames / n).read_bytes() for n in names)
    # CVAT's COCO 1.0 export of the task: same file names, no video_id/frame, uncompressed RLE
    cvat = tmp_path / "instances_default.json"
    cvat.write_text(json.dumps(as_cvat_export(json.loads(ann_file.read_text()), polygons=False)))
    r = run("import-coco", str(cvat), "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert "5 frames of 1 video: 0 added, 0 changed, 5 unchanged" in r.stdout
    with MaskStore.open(store) as st:
        assert st.read(VIDEO, "corrected").frames.tolist() == list(range(100, 105))
        assert not st.has("Other/1", "corrected")


def test_missing_frame_image_is_reported_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store, frames = _dataset(tmp_path)
    (frames / VIDEO / "00103.jpg").unlink()
    out = tmp_path / "task.zip"
    with pytest.raises(SystemExit) as exit_:
        main(["export-cvat", str(store), "--video", VIDEO, "--frames-root", str(frames), "--out", str(out)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert f"00103.jpg: video {VIDEO} frame 103: frame image not found" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zip") == []


def test_annotations_only_and_custom_images_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store, frames = _dataset(tmp_path)
    main(
        [
            "export-cvat",
            str(store),
            "--video",
            "Other/1",
            "--frames-root",
            str(frames),
            "--out",
            str(tmp_path / "a.zip"),
            "--no-images",
        ]
    )
    assert not (tmp_path / "a_images.zip").exists()
    main(
        [
            "export-cvat",
            str(store),
            "--video",
            "Other/1",
            "--frames-root",
            str(frames),
            "--out",
            str(tmp_path / "b.zip"),
            "--images-out",
            str(tmp_path / "frames.zip"),
            "--layer",
            "pseudo",
        ]
    )
    with zipfile.ZipFile(tmp_path / "frames.zip") as zf:
        assert zf.namelist() == [f"Other/1/{f:05d}.jpg" for f in range(100, 103)]
    assert "wrote 3 task images" in capsys.readouterr().out


def test_frames_and_names_from_the_dataset(tmp_path: Path) -> None:
    from tests.datasets.fixtures import make_finediving

    make_finediving(tmp_path / "FineDiving", frame_size=(48, 64))
    store = tmp_path / "m.h5"
    make_store(store, {VIDEO: 3})
    with MaskStore.open(store, "a") as st:
        d = st.read(VIDEO, "pseudo")
        d.frames = d.frames + 389  # 489..491, as the dataset numbers them
        st.put(VIDEO, "pseudo", d)
    out = tmp_path / "task.zip"
    r = run(
        "export-cvat",
        str(store),
        "--video",
        VIDEO,
        "--out",
        str(out),
        "--dataset",
        "finediving",
        "--data-root",
        str(tmp_path / "FineDiving"),
    )
    assert r.returncode == 0, r.stderr
    frames = tmp_path / "FineDiving" / "FINADiving_MTL_256s"
    with zipfile.ZipFile(tmp_path / "task_images.zip") as zf:
        assert zf.namelist() == [f"{VIDEO}/{f:05d}.jpg" for f in (489, 490, 491)]
        assert all(zf.read(n) == (frames / n).read_bytes() for n in zf.namelist())
    r = run("export-cvat", str(store), "--video", VIDEO, "--out", str(out))
    assert r.returncode == 2 and "give --frames-root, or --dataset-format and --data-root" in r.stderr


def test_several_videos_make_one_task_each_with_no_empty_annotation(tmp_path: Path) -> None:
    from hm_annotate import rle
    from hm_annotate.store import LayerData

    store, frames = _dataset(tmp_path)
    with MaskStore.open(store, "a") as st:  # a lost athlete as pseudo-label stored it before: an empty mask
        d = st.read("Other/1", "pseudo")
        st.put("Other/1", "pseudo", LayerData(frames=d.frames, masks=[d.masks[0], [rle.empty((48, 64))],
                                                                      d.masks[2]], height=48, width=64))
    out = tmp_path / "tasks"
    r = run("export-cvat", str(store), "--video", VIDEO, "--video", "Other/1", "--frames-root", str(frames),
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    first = "FINADivingWorldCup2021_Men3m_final_r1%2F8"
    assert sorted(p.name for p in out.iterdir()) == [
        f"{first}.zip", f"{first}_images.zip", "Other%2F1.zip", "Other%2F1_images.zip"
    ]
    with zipfile.ZipFile(out / "Other%2F1.zip") as zf:
        data = json.loads(zf.read(ANNOTATIONS_NAME))
    assert len(data["images"]) == 3 and len(data["annotations"]) == 2
    assert all(a["area"] > 0 for a in data["annotations"])
    with zipfile.ZipFile(out / "Other%2F1_images.zip") as zf:
        assert zf.namelist() == [f"Other/1/{f:05d}.jpg" for f in range(100, 103)]
    # a missing frame in the second video: nothing written for either
    (frames / "Other" / "1" / "00101.jpg").unlink()
    again = tmp_path / "again"
    r = run("export-cvat", str(store), "--video", VIDEO, "--video", "Other/1", "--frames-root", str(frames),
            "--out", str(again))
    assert r.returncode == 1 and "video Other/1 frame 101: frame image not found" in r.stderr
    assert not again.exists()
