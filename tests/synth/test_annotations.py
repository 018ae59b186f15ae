"""The six annotation pickles have the real FineDiving keys, layouts and types."""

import pickle

import numpy as np

from hm_annotate.synth import annotations, dives, scoring
from hm_annotate.synth.plan import plan_dataset

FINE_KEYS = [
    "action_type",
    "dive_score",
    "difficulty",
    "frames_labels",
    "steps_transit_frames",
    "sub-action_types",
]


def _load(out, name):
    with open(out / "Annotations" / name, "rb") as f:
        return pickle.load(f)


def test_all_six_files_are_written(dataset):
    out, _ = dataset
    assert sorted(p.name for p in (out / "Annotations").iterdir()) == sorted(annotations.FILES)
    assert annotations.complete(out / "Annotations")


def test_splits_are_lists_of_event_instance_tuples_covering_all_keys_once(dataset):
    out, summary = dataset
    train, test = _load(out, "train_split.pkl"), _load(out, "test_split.pkl")
    for split in (train, test):
        assert isinstance(split, list)
        assert all(type(k) is tuple and type(k[0]) is str and type(k[1]) is int for k in split)
    coarse = _load(out, "FineDiving_coarse_annotation.pkl")
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(coarse)
    assert (len(train), len(test)) == (summary["train"], summary["test"])


def test_coarse_annotation(dataset):
    out, _ = dataset
    coarse = _load(out, "FineDiving_coarse_annotation.pkl")
    for (event, instance), v in coarse.items():
        assert list(v) == [
            "action_type",
            "start_frame",
            "end_frame",
            "dive_score",
            "difficulty",
            "judge_scores",
        ]
        assert type(v["action_type"]) is str and v["action_type"] == v["action_type"].lower()
        assert type(v["start_frame"]) is int and type(v["end_frame"]) is int
        assert type(v["dive_score"]) is float and type(v["difficulty"]) is float
        assert type(v["judge_scores"]) is list and all(type(a) is float for a in v["judge_scores"])
        assert len(v["judge_scores"]) == (11 if "_synchronised_" in event else 7)
        assert v["dive_score"] == scoring.dive_score(v["judge_scores"], v["difficulty"])
        assert v["difficulty"] == dives.difficulty(v["action_type"], "10m" in event)
        folder = out / "FINADiving_MTL_256s" / event / str(instance)
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"{n:05d}.jpg" for n in range(v["start_frame"], v["end_frame"] + 1)]


def test_fine_grained_annotation(dataset):
    out, _ = dataset
    coarse = _load(out, "FineDiving_coarse_annotation.pkl")
    fine = _load(out, "FineDiving_fine-grained_annotation.pkl")
    assert list(fine) == list(coarse)
    for key, v in fine.items():
        c = coarse[key]
        assert list(v) == FINE_KEYS
        assert (v["action_type"], v["dive_score"], v["difficulty"]) == (
            c["action_type"],
            c["dive_score"],
            c["difficulty"],
        )
        labels, transits = v["frames_labels"], v["steps_transit_frames"]
        assert type(labels) is np.ndarray and labels.dtype == np.int64
        assert len(labels) == c["end_frame"] - c["start_frame"] + 1
        assert type(transits) is np.ndarray and transits.dtype == np.int64 and transits.shape == (2,)
        # relative to the start frame: the last frame of the take-off and of the flight
        changes = np.flatnonzero(np.diff(labels))
        assert transits[0] == changes[0] and transits[1] == changes[-1]
        assert v["sub-action_types"] == dives.SUB_ACTION_TYPES
        assert v["sub-action_types"][int(labels[-1])] == "Entry"


def test_aqa_annotation_and_sub_action_table(dataset):
    out, _ = dataset
    fine = _load(out, "FineDiving_fine-grained_annotation.pkl")
    aqa = _load(out, "fine-grained_annotation_aqa.pkl")
    assert list(aqa) == list(fine)
    for key, value in aqa.items():
        f = fine[key]
        assert type(value) is list and len(value) == 5
        assert value[:3] == [f["action_type"], f["dive_score"], f["difficulty"]]
        assert np.array_equal(value[3], f["steps_transit_frames"]) and value[3].dtype == np.int64
        assert np.array_equal(value[4], f["frames_labels"]) and value[4].dtype == np.int64
    table = _load(out, "Sub_action_Types_Table.pkl")
    assert table == dives.SUB_ACTION_TYPES and all(type(k) is int for k in table)


def test_write_replaces_the_folder_as_a_whole(tmp_path):
    plans = plan_dataset(5, 2)
    target = tmp_path / "Annotations"
    target.mkdir()
    (tmp_path / ".Annotations.999999.tmp").mkdir()  # a killed run's half-written folder
    (target / "stale.pkl").write_bytes(b"old")
    annotations.write(target, plans)
    assert sorted(p.name for p in target.iterdir()) == sorted(annotations.FILES)
    assert not list(tmp_path.glob(".*tmp"))
