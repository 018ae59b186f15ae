"""MTL-AQA adapter: clips cut from whole-video frame folders by start/end frame."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hm_annotate.datasets import DatasetError, DatasetWarning, load_videos
from tests.datasets.fixtures import frame_colour, make_mtl_aqa


@pytest.fixture
def tree(tmp_path):
    return tmp_path, {c.id: c for c in make_mtl_aqa(tmp_path)}


def test_ids_splits_frame_ranges_and_metadata(tree):
    root, clips = tree
    videos = load_videos("mtl-aqa", root)
    assert [v.id for v in videos] == ["01/1", "01/2", "02/1"]
    for video in videos:
        clip = clips[video.id]
        assert video.frame_numbers == tuple(range(clip.start, clip.end + 1))
        assert video.frame_paths[clip.start] == f"{clip.video:02d}/{clip.start:08d}.jpg"
        md = video.metadata
        assert md["action_type"] == clip.dive_number.lower()
        assert md["score"] == pytest.approx(clip.score) and md["difficulty"] == pytest.approx(clip.difficulty)
        assert md["judge_scores"] == [8.5, 8.0, 8.5, 9.0, 8.5, 8.0, 8.5]
        assert md["split"] == clip.split and md["sport"] == "diving" and md["athletes"] == 1
        assert md["position"] == ("tuck" if clip.dive_number.endswith("C") else "pike")
        assert md["rotation_type"] == int(clip.dive_number[0]) and md["ss_no"] == int(clip.dive_number[2])
        assert md["armstand"] == 0 and md["tw_no"] == 0
    assert {v.id for v in load_videos("mtl-aqa", root, split="test")} == {"01/2"}


def test_frames_come_from_the_clip_range_of_the_whole_video(tree):
    root, _ = tree
    (video,) = load_videos("mtl-aqa", root, videos=["01/2"])
    for n, rgb in video.frames():
        assert np.abs(rgb.reshape(-1, 3).mean(0) - frame_colour(n)).max() < 3


def test_missing_annotation_file_is_fatal(tree):
    root, _ = tree
    (root / "info" / "final_annotations_dict_with_dive_number.pkl").unlink()
    with pytest.raises(DatasetError, match="with_dive_number.pkl: annotation file not found"):
        load_videos("mtl-aqa", root)


def test_missing_video_folder_makes_each_of_its_clips_bad(tree):
    root, _ = tree
    shutil.rmtree(root / "new_total_frames_256s" / "01")
    with pytest.warns(DatasetWarning) as caught:
        videos = load_videos("mtl-aqa", root)
    assert [v.id for v in videos] == ["02/1"]
    assert sorted(str(w.message).split(":")[0] for w in caught) == ["video 01/1", "video 01/2"]
    with pytest.raises(DatasetError, match="video 01/1: frame folder"):
        load_videos("mtl-aqa", root, strict=True)


def test_video_shorter_than_the_clip_end(tree):
    root, _ = tree
    for n in (18, 19, 20, 21, 22):
        (root / "new_total_frames_256s" / "01" / f"{n:08d}.jpg").unlink()
    with pytest.warns(DatasetWarning, match=r"video 01/2: .* holds 4 of its 6 frames 14\.\.19"):
        videos = {v.id: v for v in load_videos("mtl-aqa", root)}
    assert videos["01/2"].frame_numbers == (14, 15, 16, 17)
