"""DAVIS mask trees: indexed palette PNGs with object ids, exact round trips, bad trees."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hm_annotate import rle
from hm_annotate.cli import main
from hm_annotate.io import davis, mask_tree_format
from hm_annotate.io.mask_tree import MaskTreeError
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks

H, W = 40, 60


def _store(path: Path) -> Path:
    """A solo video and a synchronised one (two disjoint divers, ids 1 and 3, one empty frame)."""
    left = np.zeros((5, H, W), np.uint8)
    right = np.zeros((5, H, W), np.uint8)
    left[:, :, :30] = ellipse_masks(5, H, 30, seed=1)
    right[:, :, 30:] = ellipse_masks(5, H, 30, seed=2)
    sync = [[a, b] for a, b in zip(rle.encode_batch(left), rle.encode_batch(right))]
    sync[2] = []
    with MaskStore.open(path, "a") as st:
        st.put(
            "Sync3m/7",
            "pseudo",
            LayerData(
                frames=np.arange(489, 494),
                masks=sync,
                object_ids=[[1, 3] if o else [] for o in sync],
                height=H,
                width=W,
            ),
        )
        solo = ellipse_masks(3, H, W, seed=4)
        st.put(
            "Solo/1",
            "pseudo",
            LayerData(frames=[5, 6, 9], masks=[[r] for r in rle.encode_batch(solo)], height=H, width=W),
        )
    return path


def _layers(store: Path, layer: str) -> dict[str, tuple]:
    with MaskStore.open(store) as st:
        out = {}
        for v in st.videos():
            d = st.read(v, layer)
            out[v] = (d.frames.tolist(), d.object_ids, [[m["counts"] for m in objs] for objs in d.masks])
        return out


def test_palette_is_the_davis_one() -> None:
    pal = davis.palette()
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert pal[:5].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    assert len({tuple(c) for c in pal}) == 256


def test_write_tree_writes_indexed_pngs_with_object_ids(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.h5")
    with MaskStore.open(store) as st:
        n = davis.write_tree(st, tmp_path / "davis", layer="pseudo")
        want = st.read("Sync3m/7", "pseudo")
    assert n == 8
    masks = tmp_path / "davis" / "Annotations" / "480p"
    assert sorted(p.name for p in (masks / "Sync3m" / "7").iterdir()) == [
        f"{f:05d}.png" for f in range(489, 494)
    ]
    with Image.open(masks / "Sync3m" / "7" / "00489.png") as img:
        assert img.mode == "P"
        assert img.getpalette()[:6] == [0, 0, 0, 128, 0, 0]
        ids = np.asarray(img)
    assert set(np.unique(ids).tolist()) == {0, 1, 3}
    np.testing.assert_array_equal(ids == 1, rle.decode(want.masks[0][0]).astype(bool))
    np.testing.assert_array_equal(ids == 3, rle.decode(want.masks[0][1]).astype(bool))
    with Image.open(masks / "Sync3m" / "7" / "00491.png") as img:
        assert not np.asarray(img).any()


def test_export_import_round_trip_is_identical_through_the_cli(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.h5")
    out = str(tmp_path / "d")
    main(["export-masks", str(store), "--format", "davis", "--out", out, "--layer", "pseudo"])
    back = tmp_path / "back.h5"
    main(["import-masks", out, "--format", "davis", "--out", str(back), "--layer", "pseudo"])
    assert _layers(back, "pseudo") == _layers(store, "pseudo")
    assert mask_tree_format("davis") is davis


def test_the_tree_is_what_davis2017_evaluation_reads(tmp_path: Path) -> None:
    """The official reader's steps: sequences from ImageSets/2017/val.txt, frames globbed from
    JPEGImages/480p/<seq>/*.jpg, masks from Annotations/480p/<seq>/*.png (and
    Annotations_unsupervised for the unsupervised task), mask names = frame names; results are
    <results>/<seq>/<name>.png. Frames are copied, PNG frames converted to JPEG."""
    store = _store(tmp_path / "m.h5")
    frames = tmp_path / "frames"
    rng = np.random.default_rng(0)
    for vid, numbers, ext in (("Sync3m/7", range(487, 495), ".jpg"), ("Solo/1", (5, 6, 9, 10), ".png")):
        (frames / vid).mkdir(parents=True)
        for f in numbers:
            cv2.imwrite(str(frames / vid / f"{f:05d}{ext}"), rng.integers(0, 255, (H, W, 3), np.uint8))
    out = tmp_path / "DAVIS"
    main(["export-masks", str(store), "--format", "davis", "--out", str(out), "--layer", "pseudo",
          "--frames-root", str(frames)])
    seqs = (out / "ImageSets" / "2017" / "val.txt").read_text().split()
    assert sorted(seqs) == ["Solo/1", "Sync3m/7"]
    with MaskStore.open(store) as st:
        for seq in seqs:
            images = sorted((out / "JPEGImages" / "480p" / seq).glob("*.jpg"))
            for task_folder in ("Annotations", "Annotations_unsupervised"):
                masks = sorted((out / task_folder / "480p" / seq).glob("*.png"))
                assert [p.stem for p in masks] == [p.stem for p in images]
            data = st.read(seq, "pseudo")
            assert [int(p.stem) for p in images] == data.frames.tolist()
            for p, objs, ids in zip(masks, data.masks, data.object_ids):
                got = np.asarray(Image.open(p))
                want = davis.index_image(rle.decode_batch(objs), ids, (H, W)) if objs else 0 * got
                np.testing.assert_array_equal(got, want)
            first = images[0]
            assert cv2.imread(str(first)).shape == (H, W, 3)
    src = frames / "Sync3m" / "7" / "00489.jpg"
    assert (out / "JPEGImages" / "480p" / "Sync3m" / "7" / "00489.jpg").read_bytes() == src.read_bytes()
    back = tmp_path / "back.h5"
    main(["import-masks", str(out), "--format", "davis", "--out", str(back), "--layer", "pseudo"])
    assert _layers(back, "pseudo") == _layers(store, "pseudo")
    # a results folder is the flat <results>/<seq>/<frame>.png tree: Annotations/480p is one
    assert [v for v, _ in davis.read_tree(out / "Annotations" / "480p")] == sorted(seqs)


def test_a_missing_frame_image_stops_the_export_before_any_file(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.h5")
    (tmp_path / "frames" / "Solo" / "1").mkdir(parents=True)
    for f in (5, 9):
        cv2.imwrite(str(tmp_path / "frames" / "Solo" / "1" / f"{f:05d}.jpg"), np.zeros((H, W, 3), np.uint8))
    missing = "video Solo/1 frame 6: no frame image"
    with MaskStore.open(store) as st, pytest.raises(MaskTreeError, match=missing):
        davis.write_tree(st, tmp_path / "out", layer="pseudo", videos=["Solo/1"],
                         frames_root=tmp_path / "frames")
    assert not (tmp_path / "out").exists()


def test_overlapping_objects_go_to_the_higher_id() -> None:
    a = np.zeros((1, 4, 4), np.uint8)
    a[0, :2] = 1
    b = np.zeros((1, 4, 4), np.uint8)
    b[0, 1:3] = 1
    img = davis.index_image(np.concatenate([b, a]), [2, 1], (4, 4))
    assert img[:, 0].tolist() == [1, 2, 2, 0]


def test_frames_root_must_match_names_and_sizes(tmp_path: Path) -> None:
    store = _store(tmp_path / "m.h5")
    with MaskStore.open(store) as st:
        davis.write_tree(st, tmp_path / "d", layer="pseudo", videos=["Solo/1"])
    frames = tmp_path / "frames" / "Solo" / "1"
    frames.mkdir(parents=True)
    for f in (5, 6, 9):
        cv2.imwrite(str(frames / f"{f:05d}.jpg"), np.zeros((H, W, 3), np.uint8))
    assert [v for v, _ in davis.read_tree(tmp_path / "d", tmp_path / "frames")] == ["Solo/1"]
    cv2.imwrite(str(frames / "00010.jpg"), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(MaskTreeError, match="video Solo/1 frame 10: no mask for this frame"):
        list(davis.read_tree(tmp_path / "d", tmp_path / "frames"))
    (frames / "00010.jpg").unlink()
    cv2.imwrite(str(frames / "00009.jpg"), np.zeros((H + 2, W, 3), np.uint8))
    with pytest.raises(
        MaskTreeError, match=r"00009.png: video Solo/1 frame 9: mask is 40x60, expected 42x60"
    ):
        list(davis.read_tree(tmp_path / "d", tmp_path / "frames"))


def test_bad_trees_and_stores_are_reported(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb" / "V" / "1"
    rgb.mkdir(parents=True)
    cv2.imwrite(str(rgb / "00001.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(MaskTreeError, match="00001.png: video V/1 frame 1: mode RGB image"):
        list(davis.read_tree(tmp_path / "rgb"))
    jpg = tmp_path / "jpg" / "V" / "1"
    jpg.mkdir(parents=True)
    cv2.imwrite(str(jpg / "00001.jpg"), np.zeros((4, 4), np.uint8))
    with pytest.raises(MaskTreeError, match="expected .png mask images"):
        list(davis.read_tree(tmp_path / "jpg"))
    store = tmp_path / "big_ids.h5"
    with MaskStore.open(store, "a") as st:
        m = rle.encode(np.ones((4, 4), np.uint8))
        st.put("V/1", "pseudo", LayerData(frames=[3], masks=[[m]], object_ids=[[300]], height=4, width=4))
    with MaskStore.open(store) as st:
        with pytest.raises(MaskTreeError, match=r"video V/1 frame 3: object ids \[300\] do not fit"):
            davis.write_tree(st, tmp_path / "out", layer="pseudo")
        with pytest.raises(MaskTreeError, match="indexed PNGs"):
            davis.write_tree(st, tmp_path / "out", layer="pseudo", ext="jpg")


def test_awkward_mask_and_frame_names(tmp_path: Path) -> None:
    """Mask and frame numbers come from the last run of digits (``hm_annotate.frame_names``):
    ``cam2_00005.png`` and ``00005_mask.png`` are frame 5, and .bmp frames are read."""
    store = _store(tmp_path / "m.h5")
    with MaskStore.open(store) as st:
        davis.write_tree(st, tmp_path / "d", layer="pseudo", videos=["Solo/1"])
    seq = tmp_path / "d" / "Annotations" / "480p" / "Solo" / "1"
    for i, p in enumerate(sorted(seq.glob("*.png"))):
        p.rename(seq / (f"cam2_{p.name}" if i % 2 else f"{p.stem}_mask.png"))
    frames = tmp_path / "frames" / "Solo" / "1"
    frames.mkdir(parents=True)
    for f in (5, 6, 9):
        cv2.imwrite(str(frames / f"cam2_{f:05d}.bmp"), np.zeros((H, W, 3), np.uint8))
    [(vid, data)] = list(davis.read_tree(tmp_path / "d", tmp_path / "frames"))
    assert vid == "Solo/1" and data.frames.tolist() == [5, 6, 9]
    with MaskStore.open(store) as st:  # the export finds .bmp frames by the same rule
        davis.write_tree(
            st, tmp_path / "out", layer="pseudo", videos=["Solo/1"], frames_root=tmp_path / "frames"
        )
    assert sorted(p.name for p in (tmp_path / "out" / "JPEGImages" / "480p" / "Solo" / "1").iterdir()) == [
        "00005.jpg", "00006.jpg", "00009.jpg"
    ]
