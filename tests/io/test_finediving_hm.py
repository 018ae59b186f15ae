from pathlib import Path

import cv2
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io import finediving_hm, mask_tree, mask_tree_format
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks, layer_from_masks


def _store_with_two_videos(path: Path) -> None:
    with MaskStore.open(path, "a") as st:
        st.put("EventA/3", "corrected", layer_from_masks(ellipse_masks(6, 32, 56, seed=1), first_frame=489))
        masks = [[r] for r in rle.encode_batch(ellipse_masks(4, 32, 56, seed=2))]
        masks[1] = []  # a frame with no athlete
        two = LayerData(frames=np.arange(10, 14), masks=masks, height=32, width=56)
        st.put("EventB_synchronised/12", "corrected", two)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_write_then_read_gives_identical_binary_masks(tmp_path, ext):
    store = tmp_path / "m.h5"
    _store_with_two_videos(store)
    out = tmp_path / "tree"
    with MaskStore.open(store) as st:
        n = finediving_hm.write_tree(st, out, layer="curated", ext=ext)
        originals = {v: st.masks(v, "corrected") for v in st.videos()}
    assert n == 10
    names = sorted(p.name for p in (out / "EventA" / "3").iterdir())
    assert names == [f"{i:05d}.{ext}" for i in range(489, 495)]
    gray = cv2.imread(str(out / "EventA" / "3" / f"00489.{ext}"), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and gray.dtype == np.uint8
    back = dict(finediving_hm.read_tree(out))
    assert sorted(back) == sorted(originals)
    for vid, (frames, masks) in originals.items():
        assert back[vid].frames.tolist() == frames.tolist()
        decoded = np.stack([rle.decode(back[vid].union(i)) for i in range(len(frames))])
        np.testing.assert_array_equal(decoded, masks)


def test_registry_knows_the_format():
    assert mask_tree_format("finediving-hm") is finediving_hm


def _tree(tmp_path: Path, n: int = 3, size=(20, 30)) -> tuple[Path, Path]:
    masks, frames = tmp_path / "masks" / "Ev" / "1", tmp_path / "frames" / "Ev" / "1"
    masks.mkdir(parents=True)
    frames.mkdir(parents=True)
    for i in range(n):
        m = np.zeros(size, np.uint8)
        m[5:10, 5 + i : 12 + i] = 255
        cv2.imwrite(str(masks / f"{100 + i:05d}.png"), m)
        cv2.imwrite(str(frames / f"{100 + i:05d}.jpg"), np.full((*size, 3), 90, np.uint8))
    return tmp_path / "masks", tmp_path / "frames"


def test_frames_root_checks_pass_on_a_matching_tree(tmp_path):
    masks, frames = _tree(tmp_path)
    [(vid, data)] = list(finediving_hm.read_tree(masks, frames_root=frames))
    assert vid == "Ev/1" and data.frames.tolist() == [100, 101, 102]
    assert (data.height, data.width) == (20, 30)


def test_missing_mask_for_a_frame(tmp_path):
    masks, frames = _tree(tmp_path)
    (masks / "Ev" / "1" / "00101.png").unlink()
    with pytest.raises(finediving_hm.MaskTreeError, match=r"video Ev/1 frame 101: no mask for this frame"):
        list(finediving_hm.read_tree(masks, frames_root=frames))


def test_rgb_mask(tmp_path):
    masks, _ = _tree(tmp_path)
    cv2.imwrite(str(masks / "Ev" / "1" / "00102.png"), np.zeros((20, 30, 3), np.uint8))
    with pytest.raises(
        finediving_hm.MaskTreeError, match=r"00102.png: video Ev/1 frame 102: mask has 3 channels"
    ):
        list(finediving_hm.read_tree(masks))


def test_mask_size_differs_from_frame(tmp_path):
    masks, frames = _tree(tmp_path)
    cv2.imwrite(str(frames / "Ev" / "1" / "00101.jpg"), np.zeros((24, 30, 3), np.uint8))
    with pytest.raises(finediving_hm.MaskTreeError, match=r"frame 101: mask is 20x30, expected 24x30"):
        list(finediving_hm.read_tree(masks, frames_root=frames))


def test_unreadable_mask_image(tmp_path):
    masks, _ = _tree(tmp_path)
    (masks / "Ev" / "1" / "00100.png").write_bytes(b"not a png at all")
    with pytest.raises(
        finediving_hm.MaskTreeError, match=r"00100.png: video Ev/1 frame 100: unreadable image"
    ):
        list(finediving_hm.read_tree(masks))


def test_jpeg_header_size_matches_decoded_size(tmp_path):
    p = tmp_path / "f.jpg"
    cv2.imwrite(str(p), np.zeros((37, 91, 3), np.uint8))
    assert mask_tree.jpeg_size(p) == (37, 91)


def _mask_folder(folder: Path, names: list[str], size=(20, 30)) -> None:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        m = np.zeros(size, np.uint8)
        m[5:10, 5 + i : 12 + i] = 255
        cv2.imwrite(str(folder / name), m)


@pytest.mark.parametrize("pattern", ["cam2_{:05d}.png", "{:05d}_mask.png", "{:05d}.bmp"])
def test_awkward_mask_names_give_the_frame_number(tmp_path, pattern):
    """The shared rule (hm_annotate.frame_names): the last run of digits, so a camera number or a
    suffix does not change the frame (``cam2_00489.png`` was frame 200489 here before)."""
    _mask_folder(tmp_path / "masks" / "Ev" / "1", [pattern.format(n) for n in (489, 490, 491)])
    frames = tmp_path / "frames" / "Ev" / "1"
    frames.mkdir(parents=True)
    for n in (489, 490, 491):  # frames named differently from the masks (and .bmp among them)
        ext = "bmp" if n == 490 else "jpg"
        cv2.imwrite(str(frames / f"img_{n:05d}.{ext}"), np.full((20, 30, 3), 90, np.uint8))
    [(vid, data)] = list(finediving_hm.read_tree(tmp_path / "masks", frames_root=tmp_path / "frames"))
    assert vid == "Ev/1" and data.frames.tolist() == [489, 490, 491]


def test_two_masks_with_one_frame_number_are_an_error(tmp_path):
    _mask_folder(tmp_path / "masks" / "Ev" / "1", ["00489.png", "cam2_00489.png"])
    with pytest.raises(mask_tree.MaskTreeError, match=r"video Ev/1 frame 489: 00489.png has the same number"):
        list(finediving_hm.read_tree(tmp_path / "masks"))
