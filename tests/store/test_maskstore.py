"""MaskStore handles: round trips, the curated view, merges and transactions, the writer lock."""

import os

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore, StoreError, StoreLockedError, summarise, validate
from tests.masks import ellipse_masks, layer_from_masks, make_store


def test_put_read_round_trip_with_objects_scores_quality_and_provenance(tmp_path):
    masks = ellipse_masks(6)
    second = np.roll(masks, 20, axis=2)
    rles, rles2 = rle.encode_batch(masks), rle.encode_batch(second)
    data = LayerData(
        frames=np.array([489, 490, 491, 492, 493, 495]),
        masks=[[a, b] for a, b in zip(rles, rles2)][:5] + [[]],
        height=48,
        width=64,
        object_ids=[[1, 2]] * 5 + [[]],
        scores=np.linspace(0.5, 1, 6).astype(np.float32),
        quality={"iou_prev": np.ones(6, np.float32)},
        provenance=[{"tool": "test", "segmenter": "grabcut"}],
    )
    path = tmp_path / "m.h5"
    with MaskStore.open(path, "a") as st:
        st.put("event_a/1", "pseudo", data, metadata={"action_type": "5253b", "athletes": 2})
    with MaskStore.open(path) as st:
        assert st.videos() == ["event_a/1"]
        assert st.metadata("event_a/1") == {"action_type": "5253b", "athletes": 2}
        back = st.read("event_a/1", "pseudo")
        assert back.frames.tolist() == [489, 490, 491, 492, 493, 495]
        assert back.masks == data.masks and back.object_ids == data.object_ids
        np.testing.assert_allclose(back.scores, data.scores)
        np.testing.assert_array_equal(back.quality["iou_prev"], 1)
        assert back.provenance == [{"tool": "test", "segmenter": "grabcut"}]
        assert st.frame("event_a/1", "pseudo", 491) == [rles[2], rles2[2]]
        assert st.frame("event_a/1", "pseudo", 495) == []
        frames, decoded = st.masks("event_a/1", "pseudo")
        np.testing.assert_array_equal(decoded[:5], masks[:5] | second[:5])
        assert decoded[5].sum() == 0
        f, area, box = st.area_bbox("event_a/1", "pseudo")
        np.testing.assert_array_equal(area, decoded.reshape(6, -1).sum(1))
        assert box.shape == (6, 4) and box[5].tolist() == [0, 0, 0, 0]
        with pytest.raises(StoreError, match="no frame 494"):
            st.frame("event_a/1", "pseudo", 494)
    assert validate(path) == []


def test_curated_takes_corrected_frames_over_pseudo(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"v/1": 10})
    fixed = layer_from_masks(ellipse_masks(3, seed=9), first_frame=102, provenance=[{"annotator": "ann"}])
    with MaskStore.open(path, "a") as st:
        st.put("v/1", "corrected", fixed)
        pseudo = st.read("v/1", "pseudo")
    with MaskStore.open(path) as st:
        cur = st.read("v/1", "curated")
        assert cur.frames.tolist() == list(range(100, 110))
        assert cur.masks[2:5] == fixed.masks and cur.masks[:2] == pseudo.masks[:2]
        assert cur.provenance[cur.provenance_index[3]] == {"annotator": "ann"}
        assert st.frame("v/1", "curated", 103) == fixed.masks[1]
        assert st.frame("v/1", "curated", 100) == pseudo.masks[0]
        _, area, _ = st.area_bbox("v/1", "curated")
        np.testing.assert_array_equal(area, cur.area)
        info = summarise(st)
    assert info["layers"]["corrected"]["frames"] == 3
    assert info["layers"]["curated"]["frames"] == 10


def test_merge_put_keeps_other_frames_and_transaction_is_all_or_nothing(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"v/1": 5, "v/2": 5}, layer="corrected")
    before = path.read_bytes()
    edit = layer_from_masks(ellipse_masks(2, seed=4), first_frame=100)
    with MaskStore.open(path, "a") as st:
        with pytest.raises(RuntimeError):
            with st.transaction():
                st.put("v/1", "corrected", edit, merge=True)
                raise RuntimeError("import failed half way")
        assert st.journal_parts() == 0
    assert path.read_bytes() == before
    with MaskStore.open(path, "a") as st:
        st.put("v/1", "corrected", edit, merge=True)
    with MaskStore.open(path) as st:
        assert st.read("v/1", "corrected").frames.tolist() == [100, 101, 102, 103, 104]


def test_second_writer_is_refused_and_readers_still_read(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"v/1": 3})
    with MaskStore.open(path, "a") as st:
        st.put("v/2", "pseudo", layer_from_masks(ellipse_masks(2)))
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
            MaskStore.open(path, "a")
        with MaskStore.open(path) as reader:  # sees the committed journal part
            assert reader.videos() == ["v/1", "v/2"]
    with MaskStore.open(path, "a"):
        pass


def test_a_layer_of_frames_without_objects_round_trips(tmp_path):
    """Frames marked as having no athlete at all (no RLE anywhere) are a valid layer."""
    data = LayerData(frames=np.array([3, 4, 5]), masks=[[], [], []], height=48, width=64)
    path = tmp_path / "empty.h5"
    with MaskStore.open(path, mode="a") as st:
        st.put("v/0", "corrected", data)
    with MaskStore.open(path) as st:
        back = st.read("v/0", "corrected")
        assert back.frames.tolist() == [3, 4, 5] and back.masks == [[], [], []]
        frames, masks = st.masks("v/0", "corrected")
        assert masks.shape == (3, 48, 64) and not masks.any()
    assert validate(path) == []


@pytest.mark.parametrize("fold_every", [256, 2])
def test_a_handle_sees_its_own_writes_through_the_layers_it_keeps_open(tmp_path, monkeypatch, fold_every):
    monkeypatch.setattr("hm_annotate.store.maskstore.FOLD_EVERY", fold_every)
    path = tmp_path / "m.h5"
    a, b = ellipse_masks(4, seed=1), ellipse_masks(4, seed=2)
    counts = [m["counts"] for m in rle.encode_batch(b)]
    with MaskStore.open(path, "a") as st:
        st.put("v/1", "pseudo", layer_from_masks(a))
        st.put("v/2", "pseudo", layer_from_masks(a))
        assert st.frame("v/1", "pseudo", 2)[0]["counts"] == rle.encode(a[2])["counts"]
        before = st.read("v/2", "pseudo")
        st.put("v/1", "pseudo", layer_from_masks(b, first_frame=1))  # replaces the layer kept open
        assert st.frame("v/1", "pseudo", 2)[0]["counts"] == counts[1]
        np.testing.assert_array_equal(st.masks("v/1", "pseudo")[1], b)
        with pytest.raises(StoreError, match="no frame 0"):
            st.frame("v/1", "pseudo", 0)
        assert st.read("v/2", "pseudo").masks == before.masks
        st.read("v/1", "pseudo").frames[:] = 0  # a caller's arrays are its own
        assert st.frame("v/1", "pseudo", 4)[0]["counts"] == counts[3]
    with MaskStore.open(path) as st:
        assert [st.frame("v/1", "pseudo", f)[0]["counts"] for f in (1, 2, 3, 4)] == counts
