"""Safe loading of annotation pickles and .mat files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from hm_annotate.datasets import DatasetError
from hm_annotate.datasets.annotations import load_mat_array, load_pickle, number_list, plain


def test_real_annotation_structures_round_trip(tmp_path):
    obj = {("FINADivingWorldCup2021_Men3m_final_r1", 8): {
        "frames_labels": np.arange(5, dtype=np.int64), "steps_transit_frames": np.array([3, 7], np.int64),
        "dive_score": np.float64(75.6), "sub-action_types": {"a": 1}}}
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        loaded = load_pickle(path)
        entry = loaded[("FINADivingWorldCup2021_Men3m_final_r1", 8)]
        assert entry["frames_labels"].dtype == np.int64 and entry["frames_labels"].tolist() == [0, 1, 2, 3, 4]
        assert plain(entry) == {"frames_labels": [0, 1, 2, 3, 4], "steps_transit_frames": [3, 7],
                                "dive_score": 75.6, "sub-action_types": {"a": 1}}


def test_numpy1_pickles_load_under_numpy2(tmp_path):
    """Real annotation pickles were written by numpy 1 and name numpy.core.multiarray."""
    data = pickle.dumps(np.array([3, 7], np.int64), protocol=2)
    assert b"numpy._core.multiarray" in data or b"numpy.core.multiarray" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert load_pickle(path).tolist() == [3, 7]


def test_python2_byte_strings_decode_as_latin1(tmp_path):
    path = tmp_path / "py2.pkl"
    # protocol-2 pickle of {'caf\xe9': 1} as Python 2 writes it: a SHORT_BINSTRING key
    path.write_bytes(b"\x80\x02}q\x00U\x04caf\xe9q\x01K\x01s.")
    assert load_pickle(path) == {"café": 1}


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_pickles_naming_other_code_are_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Payload(str(marker))}))
    with pytest.raises(DatasetError, match=r"evil.pkl: not a readable annotation pickle \(refers to posix"):
        load_pickle(path)
    assert not marker.exists()


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DatasetError, match="gone.pkl: annotation file not found"):
        load_pickle(tmp_path / "gone.pkl")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(DatasetError, match="bad.pkl: not a readable annotation pickle"):
        load_pickle(tmp_path / "bad.pkl")
    (tmp_path / "bad.mat").write_bytes(b"garbage" * 30)
    with pytest.raises(DatasetError, match="bad.mat: not a readable .mat file"):
        load_mat_array(tmp_path / "bad.mat", "x")


def test_number_list_flattens_any_shape():
    assert number_list(np.array([[3, 7]], np.int64), int) == [3, 7]
    assert number_list((7, 7.5)) == [7.0, 7.5]
