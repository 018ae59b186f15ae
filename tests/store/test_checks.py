"""The name check a store open does for every video, and the group checks done on first touch."""

from urllib.parse import quote, unquote

import h5py
import pytest

from hm_annotate.safe_paths import MAX_ID_LENGTH, relative_path_problem
from hm_annotate.store import MaskStore, StoreError, validate
from hm_annotate.store.checks import id_of_name
from hm_annotate.store.codec import group_name
from tests.masks import make_store

NAMES = [
    "clip", "ev%2F7", "a.b%2Fc-d_e~f", "FINADivingWorldCup2021_Men3m_final_r1%2F8", ".", "..", "%2E",
    "a%2F.", "a%2F..%2Fb", "..a%2Fb..", "a%2F%2Fb", "%2Fabs", "a%2F", "ev%2f7", "a%20b", "a b",
    "a%5Cb", "a%00b", "%", "a%2", "caf%C3%A9", "café", "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1),
    "x" * 500 + "%2F" + "y" * 523, "x" * 500 + "%2F" + "y" * 524, "a.%2F.b", "...",
]


@pytest.mark.parametrize("name", NAMES)
def test_id_of_name_agrees_with_unquote_and_the_safe_id_rule(name):
    video_id = unquote(name)
    ok = relative_path_problem(video_id) is None and group_name(video_id) == name
    assert id_of_name(name) == (video_id if ok else None)
    if ok:
        assert quote(video_id, safe="") == name


def test_a_group_whose_video_id_disagrees_is_refused_on_first_touch_and_listing(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"ev/1": 2, "ev/2": 2})
    with h5py.File(path, "r+") as f:
        f["videos"]["ev%2F2"].attrs["video_id"] = "ev/3"
    assert any("does not match its video_id" in m for m in validate(path))
    with MaskStore.open(path) as st:  # the open reads names only: ev/1 stays readable
        assert len(st.frame("ev/1", "pseudo", 100)) == 1
        for touch in (
            lambda: st.frame("ev/2", "pseudo", 100),
            lambda: st.metadata("ev/2"),
            lambda: st.layers("ev/2"),
            st.videos,
        ):
            with pytest.raises(StoreError, match=r"m\.h5: video ev/3: group name 'ev%2F2' does not match"):
                touch()
    with h5py.File(path, "r+") as f:
        del f["videos"]["ev%2F2"].attrs["video_id"]
        f["videos"]["ev%2F3"] = f["videos"]["ev%2F1"]["pseudo"]["frames"]  # a dataset, not a group
    with pytest.raises(StoreError, match="video group 'ev%2F3' is not an HDF5 group"):
        MaskStore.open(path)
