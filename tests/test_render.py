"""Render: overlays on frames read from a FineDiving-layout folder, written as mp4, gif and PNGs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from hm_annotate import rle
from hm_annotate.render import RenderError, folder_frames, overlay, render_video
from hm_annotate.store import StoreError
from tests.mask_stores import H, W, ellipses, layer, write_store

VID = "FINADivingWorldCup2021_Men3m_final_r1/8"
FRAMES = range(489, 501)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    folder = root / "frames" / VID
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for n in FRAMES:
        img = np.full((H, W, 3), 90, np.uint8) + rng.integers(0, 20, (H, W, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"{n:05d}.jpg"), img)
    m = ellipses(len(FRAMES), dx=2)
    store = write_store(root / "s.h5", {
        VID: {"pseudo": layer(FRAMES, m), "corrected": layer([492, 493], ellipses(2, cx0=50))},
    })  # fmt: skip
    return store, root / "frames"


def test_overlay_tints_the_mask_and_leaves_the_rest():
    rgb = np.full((H, W, 3), 100, np.uint8)
    m = ellipses(1)[0]
    out = overlay(rgb, [rle.encode(m)])
    inside = out[24, 20]
    assert inside[0] > 150 and inside[1] < 100  # red tint (object 1)
    assert (out[m == 0] == 100).all()
    two = overlay(rgb, [rle.encode(m), rle.encode(ellipses(1, cx0=60)[0])])
    assert two[24, 60, 2] > 150  # object 2 is blue


def test_folder_frames_reads_by_number(data):
    _, root = data
    read = folder_frames(root, VID)
    assert read(489).shape == (H, W, 3)
    with pytest.raises(RenderError, match="no image for frame 5"):
        read(5)
    with pytest.raises(RenderError, match="no frames folder"):
        folder_frames(root, "other/1")(489)


def test_folder_frames_take_the_last_number_of_a_name(tmp_path):
    folder = tmp_path / VID
    folder.mkdir(parents=True)
    img = np.full((H, W, 3), 7, np.uint8)
    for name in ("00489_mask.png", "cam2_00490.jpg", "notes.txt", ".00491.png"):
        if name.endswith(".txt"):
            (folder / name).write_text("x")
        else:
            cv2.imwrite(str(folder / name), img)
    read = folder_frames(tmp_path, VID)
    assert read(489).shape == read(490).shape == (H, W, 3)
    with pytest.raises(RenderError, match="no image for frame 491"):  # hidden files are not frames
        read(491)


def test_mp4_is_playable_with_every_frame(data, tmp_path):
    store, root = data
    n = render_video(store, VID, tmp_path / "v.mp4", read_frame=folder_frames(root, VID))
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        assert frame.shape[:2] == (H, W)
    cap.release()
    assert n == count == len(FRAMES)


def test_gif_and_png_folder_side_by_side(data, tmp_path):
    store, root = data
    read = folder_frames(root, VID)
    n = render_video(store, VID, tmp_path / "v.gif", read_frame=read, compare_layers=True)
    with Image.open(tmp_path / "v.gif") as gif:
        assert gif.n_frames == n == len(FRAMES)
        assert gif.size == (2 * W, H)
    n = render_video(store, VID, tmp_path / "pngs", read_frame=read, compare_layers=True)
    pngs = sorted((tmp_path / "pngs").glob("*.png"))
    assert n == len(pngs) == len(FRAMES) and pngs[0].name == "00489.png"
    # on frame 492 the corrected ellipse (right half) sits at x=50, the pseudo one (left) at x=26
    img = cv2.cvtColor(cv2.imread(str(tmp_path / "pngs" / "00492.png")), cv2.COLOR_BGR2RGB).astype(int)
    left, right = img[:, :W], img[:, W:]
    assert left[24, 26, 0] - left[24, 26, 2] > 60 and abs(left[24, 50, 0] - left[24, 50, 2]) < 40
    assert right[24, 50, 0] - right[24, 50, 2] > 60 and abs(right[24, 26, 0] - right[24, 26, 2]) < 40


def test_bad_input(data, tmp_path):
    store, root = data
    read = folder_frames(root, VID)
    with pytest.raises(StoreError, match="no video 'nope/1'"):
        render_video(store, "nope/1", tmp_path / "v.mp4", read_frame=read)
    with pytest.raises(StoreError, match="unknown layer"):
        render_video(store, VID, tmp_path / "v.mp4", read_frame=read, layer="gt")
    with pytest.raises(RenderError, match="write .mp4, .gif or a folder"):
        render_video(store, VID, tmp_path / "v.avi", read_frame=read)
    assert not (tmp_path / "v.mp4").exists()
