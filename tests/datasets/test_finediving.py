"""FineDiving adapter on a tiny tree in the real on-disk format."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hm_annotate.datasets import DatasetError, DatasetWarning, load_videos
from tests.datasets.fixtures import FineDivingClip, frame_colour, make_finediving


@pytest.fixture
def tree(tmp_path):
    clips = make_finediving(tmp_path)
    return tmp_path, {c.id: c for c in clips}


def frames_dir(root, clip):
    return root / "FINADiving_MTL_256s" / clip.event / str(clip.instance)


def test_ids_splits_frames_and_metadata(tree):
    root, clips = tree
    videos = load_videos("finediving", root)
    assert sorted(v.id for v in videos) == sorted(clips)
    for video in videos:
        clip = clips[video.id]
        assert video.frame_numbers == tuple(range(clip.start, clip.end + 1))
        assert video.frame_paths[clip.start] == f"{clip.event}/{clip.instance}/{clip.start:05d}.jpg"
        assert video.frames_root == str((root / "FINADiving_MTL_256s").resolve())
        md = video.metadata
        assert md["action_type"] == clip.action_type
        assert md["score"] == pytest.approx(clip.score)
        assert md["difficulty"] == pytest.approx(clip.difficulty)
        assert md["judge_scores"] == clip.judge_scores
        assert md["split"] == clip.split
        assert md["step_transitions"] == [clip.start + t for t in clip.transits]
        assert md["frames_labels"] == clip.frames_labels().tolist()
        assert md["event"] == clip.event and md["sport"] == "diving"
        assert md["athletes"] == (2 if "Synchro" in clip.event else 1)
        assert all(type(x) is int for x in md["step_transitions"] + md["frames_labels"])


def test_split_selection(tree):
    root, clips = tree
    for split in ("train", "test"):
        ids = {v.id for v in load_videos("finediving", root, split=split)}
        assert ids == {cid for cid, c in clips.items() if c.split == split}


def test_read_frame_returns_the_numbered_frame_in_rgb(tree):
    root, clips = tree
    video = load_videos("finediving", root, videos=["FINADivingWorldCup2021_Men3m_final_r1/8"])[0]
    for n, rgb in video.frames([489, 495, 500]):
        assert rgb.dtype == np.uint8 and rgb.shape == (24, 32, 3)
        assert np.abs(rgb.reshape(-1, 3).mean(0) - frame_colour(n)).max() < 3


def test_frames_outside_the_annotated_range_are_not_listed(tree):
    root, clips = tree
    clip = clips["FINADivingWorldCup2021_Men3m_final_r1/8"]
    folder = frames_dir(root, clip)
    for n in (clip.start - 1, clip.end + 1):
        (folder / f"{n:05d}.jpg").write_bytes((folder / "00490.jpg").read_bytes())
    video = load_videos("finediving", root, videos=[clip.id])[0]
    assert video.frame_numbers == tuple(range(clip.start, clip.end + 1))


@pytest.mark.parametrize("name", ["train_split.pkl", "test_split.pkl", "FineDiving_coarse_annotation.pkl",
                                  "FineDiving_fine-grained_annotation.pkl"])
def test_missing_annotation_file_is_fatal_and_named(tree, name):
    root, _ = tree
    (root / "Annotations" / name).unlink()
    with pytest.raises(DatasetError, match=name):
        load_videos("finediving", root)


def test_optional_aqa_annotation_may_be_absent(tree):
    root, clips = tree
    (root / "Annotations" / "fine-grained_annotation_aqa.pkl").unlink()
    assert len(load_videos("finediving", root)) == len(clips)


def test_missing_frame_folder_warns_and_skips_or_fails_when_strict(tree):
    root, clips = tree
    clip = clips["FINADivingWorldCup2021_Women10m_semifinal_r3/12"]
    for f in frames_dir(root, clip).iterdir():
        f.unlink()
    frames_dir(root, clip).rmdir()
    with pytest.warns(DatasetWarning, match=f"video {clip.id}: frame folder .* is missing"):
        videos = load_videos("finediving", root)
    assert {v.id for v in videos} == set(clips) - {clip.id}
    with pytest.raises(DatasetError, match=f"video {clip.id}: frame folder"):
        load_videos("finediving", root, strict=True)


def test_short_folder_warns_and_lists_present_frames_or_fails_when_strict(tree):
    root, clips = tree
    clip = clips["FINADivingWorldCup2021_Men3m_final_r1/8"]
    for n in (495, 499, 500):
        (frames_dir(root, clip) / f"{n:05d}.jpg").unlink()
    with pytest.warns(DatasetWarning, match=r"holds 9 of its 12 frames 489\.\.500 \(missing 495, 499, 500\)"):
        videos = {v.id: v for v in load_videos("finediving", root)}
    assert set(videos) == set(clips)
    assert videos[clip.id].frame_numbers == tuple(n for n in range(489, 500) if n != 495 and n != 499)
    with pytest.raises(DatasetError, match=f"video {clip.id}: .* holds 9 of its 12 frames"):
        load_videos("finediving", root, strict=True)


def test_folder_with_none_of_the_frames_is_skipped(tree):
    root, clips = tree
    clip = clips["FINADivingWorldCup2021_Men3m_final_r1/8"]
    for f in frames_dir(root, clip).iterdir():
        f.rename(f.with_name(f"{int(f.stem) + 1000:05d}.jpg"))
    with pytest.warns(DatasetWarning, match=f"video {clip.id}: .* holds none of its frames 489..500"):
        assert clip.id not in {v.id for v in load_videos("finediving", root)}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_frame_is_found_at_read_time_naming_file_video_and_frame(tree, damage):
    root, clips = tree
    clip = clips["FINADivingWorldCup2021_Men3m_final_r1/8"]
    path = frames_dir(root, clip) / "00493.jpg"
    data = path.read_bytes()
    damaged = {"truncate": data[: len(data) // 2], "garbage": b"not a jpeg" * 20, "empty": b""}
    path.write_bytes(damaged[damage])
    video = load_videos("finediving", root, strict=True, videos=[clip.id])[0]  # listing decodes nothing
    assert 493 in video.frame_numbers
    video.read_frame(492)
    message = rf"00493\.jpg: frame 493 of video {clip.id} is not a readable image"
    with pytest.raises(DatasetError, match=message):
        video.read_frame(493)


def test_frame_not_in_video_is_an_error(tree):
    root, _ = tree
    video = load_videos("finediving", root, videos=["FINADivingWorldCup2021_Men3m_final_r1/8"])[0]
    with pytest.raises(DatasetError, match="has no frame 12"):
        video.read_frame(12)


def test_split_key_without_coarse_entry_is_a_bad_video(tmp_path):
    make_finediving(tmp_path)
    split = tmp_path / "Annotations" / "test_split.pkl"
    split.write_bytes(pickle.dumps(pickle.loads(split.read_bytes()) + [("FINADivingWorldCup2021_Ghost", 1)]))
    with pytest.warns(DatasetWarning, match="video FINADivingWorldCup2021_Ghost/1: no entry in"):
        assert len(load_videos("finediving", tmp_path)) == 3


def test_key_in_both_splits_is_listed_once(tmp_path):
    clip = FineDivingClip("FINADivingWorldCup2021_Men3m_final_r1", 8, "train", 10, 14)
    make_finediving(tmp_path, [clip])
    (tmp_path / "Annotations" / "test_split.pkl").write_bytes(pickle.dumps([clip.key]))
    with pytest.warns(DatasetWarning, match="listed in the train split and again in test"):
        videos = load_videos("finediving", tmp_path)
    assert [(v.id, v.metadata["split"]) for v in videos] == [(clip.id, "train")]


def test_keys_written_with_numpy_types_match(tmp_path):
    """Annotations pickled by numpy code may key instances by numpy ints; ids stay plain."""
    clip = FineDivingClip("FINADivingWorldCup2021_Men3m_final_r1", 8, "train", 10, 14)
    make_finediving(tmp_path, [clip])
    split = tmp_path / "Annotations" / "train_split.pkl"
    split.write_bytes(pickle.dumps([(np.str_(clip.event), np.int64(clip.instance))]))
    (video,) = load_videos("finediving", tmp_path)
    assert video.id == clip.id and video.metadata["step_transitions"] == [13, 17]


# ----------------------------------------------------------------------------- tampered pickles (issue 14)


def test_an_event_climbing_out_of_the_frames_folder_is_skipped_not_listed(tmp_path):
    from tests.datasets.fixtures import FineDivingClip

    evil = FineDivingClip("../FINADiving_MTL_256s/Ev", 1, "train", 10, 14)
    make_finediving(tmp_path, [*make_finediving(tmp_path)[:1], evil])
    with pytest.warns(DatasetWarning, match=r"video id '\.\./FINADiving_MTL_256s/Ev/1' is not a normalised"):
        videos = load_videos("finediving", tmp_path)
    assert [v.id for v in videos] == ["FINADivingWorldCup2021_Men3m_final_r1/8"]
    with pytest.raises(DatasetError, match="video id"):
        load_videos("finediving", tmp_path, strict=True)


def _nested_shared(depth):
    value = ["x"]
    for _ in range(depth):
        value = [value, value]
    return value


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("action_type", _nested_shared(40), "action_type is not a text"),
        ("end_frame", 10**9, "not a clip"),
        ("start_frame", [1, 2], "start_frame is a list"),
        ("start_frame", 10**400, "start_frame is too large"),
        ("dive_score", "high", "dive_score is a str"),
        ("difficulty", float("nan"), "difficulty is not finite"),
        ("judge_scores", _nested_shared(40), "judge_scores is nested more than"),
        ("judge_scores", {"a": 1}, "judge_scores is not a list of numbers"),
        ("judge_scores", "777", "judge_scores is a text"),
    ],
)
def test_tampered_coarse_fields_skip_the_video_with_one_line(tree, field, value, message):
    root, clips = tree
    path = root / "Annotations" / "FineDiving_coarse_annotation.pkl"
    coarse = pickle.loads(path.read_bytes())
    key = ("FINADivingWorldCup2021_Men3m_final_r1", 8)
    coarse[key][field] = value
    path.write_bytes(pickle.dumps(coarse))
    with pytest.warns(DatasetWarning, match=message):
        videos = load_videos("finediving", root)
    assert "FINADivingWorldCup2021_Men3m_final_r1/8" not in {v.id for v in videos}


@pytest.mark.parametrize("entry", [(_nested_shared(40), 8), ("ev", 10**5000), ("ev", [8]), 7])
def test_tampered_split_entries_are_one_error(tree, entry):
    root, _ = tree
    (root / "Annotations" / "train_split.pkl").write_bytes(pickle.dumps([entry]))
    with pytest.raises(DatasetError, match="train_split.pkl"):
        load_videos("finediving", root)
