"""AQA-7 adapter: Split_4 .mat files and Seven/<class>-out/<sample> frame folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.io

from hm_annotate.datasets import DatasetError, DatasetWarning, load_videos
from tests.datasets.fixtures import frame_colour, make_aqa7


@pytest.fixture
def root(tmp_path):
    make_aqa7(tmp_path)
    return tmp_path


def test_ids_splits_frames_and_metadata(root):
    videos = {v.id: v for v in load_videos("aqa7", root)}
    # in class-index order
    assert list(videos) == ["diving/001", "gym_vault/003", "sync_diving_3m/002", "sync_diving_10m/010"]
    dive = videos["diving/001"]
    assert dive.frame_numbers == (1, 2, 3, 4, 5)
    assert dive.frame_paths[1] == "diving-out/001/img_00001.jpg"
    assert dive.metadata == {"action_type": "diving", "score": 81.0, "split": "train", "event": "diving",
                             "sport": "diving", "athletes": 1}
    assert videos["gym_vault/003"].metadata["sport"] == "gymnastics"
    assert videos["sync_diving_3m/002"].metadata["split"] == "test"
    assert videos["sync_diving_3m/002"].metadata["athletes"] == 2
    assert videos["sync_diving_10m/010"].frame_numbers == (1, 2, 3)
    assert {v.id for v in load_videos("aqa7", root, split="test")} == {"sync_diving_3m/002"}
    rgb = dive.read_frame(4)
    assert np.abs(rgb.reshape(-1, 3).mean(0) - frame_colour(4)).max() < 3


def test_split_files_inside_seven_and_root_at_seven(root):
    shutil.move(root / "Split_4", root / "Seven" / "Split_4")
    assert len(load_videos("aqa7", root)) == 4
    assert len(load_videos("aqa7", root / "Seven")) == 4


def test_missing_split_file_and_variable_are_fatal(root):
    path = root / "Split_4" / "split_4_test_list.mat"
    scipy.io.savemat(str(path), {"wrong_name": np.zeros((1, 3))})
    with pytest.raises(DatasetError, match="split_4_test_list.mat: has no variable 'consolidated_test_list'"):
        load_videos("aqa7", root)
    path.unlink()
    with pytest.raises(DatasetError, match="split_4_test_list.mat: annotation file not found"):
        load_videos("aqa7", root)


def test_missing_sample_folder_and_unknown_class(root):
    shutil.rmtree(root / "Seven" / "gym_vault-out" / "003")
    path = root / "Split_4" / "split_4_train_list.mat"
    rows = scipy.io.loadmat(str(path))["consolidated_train_list"]
    scipy.io.savemat(str(path), {"consolidated_train_list": np.vstack([rows, [[9, 1, 50.0]]])})
    with pytest.warns(DatasetWarning) as caught:
        videos = load_videos("aqa7", root)
    assert len(videos) == 3
    messages = sorted(str(w.message) for w in caught)
    assert messages[0].startswith("video class9/001: class index 9 is not an AQA-7 class")
    assert messages[1].startswith("video gym_vault/003: frame folder")
    assert messages[1].endswith("is missing; skipped")
