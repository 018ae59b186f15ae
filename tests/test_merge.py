"""Merging shard stores: disjoint shards, identical and conflicting duplicates, --force, rollback."""

from __future__ import annotations

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.merge import MergeError, first_difference, merge_stores
from hm_annotate.store import LayerData, MaskStore
from tests.masks import ellipse_masks, layer_from_masks

META = {"action_type": "107b", "split": "train", "score": 71.4, "step_transitions": [520, 561]}


def shard(path, videos: dict[str, tuple[LayerData, dict]], layer: str = "pseudo"):
    with MaskStore.open(path, "a") as st:
        for vid, (data, meta) in videos.items():
            st.put(vid, layer, data, metadata=meta)
    return path


def video(seed: int, n: int = 5, **kwargs) -> LayerData:
    return layer_from_masks(ellipse_masks(n, seed=seed), first_frame=489, **kwargs)


def contents(path) -> dict:
    with MaskStore.open(path) as st:
        return {
            (v, layer): (st.metadata(v), st.read(v, layer).frames.tolist(), st.read(v, layer).masks)
            for v in st.videos()
            for layer in st.layers(v)
        }


def test_disjoint_shards_merge_with_everything_kept(tmp_path):
    scored = video(1, scores=np.linspace(0.2, 0.9, 5).astype(np.float32), provenance=[{"tool": "sam"}])
    a = shard(tmp_path / "a.h5", {"ev/1": (scored, META), "ev/2": (video(2), {**META, "score": 50.0})})
    b = shard(tmp_path / "b.h5", {"ev/3": (video(3), META)})
    with MaskStore.open(b, "a") as st:
        st.put("ev/3", "corrected", video(4, n=2))
    out = tmp_path / "all.h5"
    summary = merge_stores(out, [a, b])
    assert summary["videos"] == 3
    assert summary["written"] == {"pseudo": 3, "corrected": 1, "frames": 17}
    assert summary["identical_duplicates"] == 0
    assert contents(out) == {**contents(a), **contents(b)}
    with MaskStore.open(out) as st:
        back = st.read("ev/1", "pseudo")
        np.testing.assert_allclose(back.scores, scored.scores)
        assert back.provenance == [{"tool": "sam"}]
        assert st.metadata("ev/2")["score"] == 50.0


def test_identical_duplicates_are_fine(tmp_path):
    a = shard(tmp_path / "a.h5", {"ev/1": (video(1, provenance=[{"shard": "1/2"}]), META)})
    b = shard(tmp_path / "b.h5", {"ev/1": (video(1, provenance=[{"shard": "2/2"}]), META)})
    summary = merge_stores(tmp_path / "out.h5", [a, b])
    assert summary["identical_duplicates"] == 1
    assert summary["written"]["pseudo"] == 1
    with MaskStore.open(tmp_path / "out.h5") as st:
        assert st.read("ev/1", "pseudo").provenance == [{"shard": "1/2"}]  # the first part's copy


def test_conflicting_masks_name_the_video_and_write_nothing(tmp_path):
    a = shard(tmp_path / "a.h5", {"ev/1": (video(1), META), "ev/9": (video(9), META)})
    changed = ellipse_masks(5, seed=9)
    changed[3, 10:12, 10:12] ^= 1
    b = shard(tmp_path / "b.h5", {"ev/9": (layer_from_masks(changed, first_frame=489), META)})
    out = tmp_path / "out.h5"
    with pytest.raises(MergeError, match=r"video ev/9: 'pseudo' masks differ between .*a\.h5 and .*b\.h5: "
                                         r"frame 492 masks differ"):
        merge_stores(out, [a, b])
    assert not out.exists()


def test_conflicting_frames_and_metadata(tmp_path):
    a = shard(tmp_path / "a.h5", {"ev/1": (video(1), META)})
    fewer = shard(tmp_path / "b.h5", {"ev/1": (video(1, n=4), META)})
    with pytest.raises(MergeError, match=r"video ev/1: .*\(frame 493 is in one copy only\)"):
        merge_stores(tmp_path / "o1.h5", [a, fewer])
    other_meta = shard(tmp_path / "c.h5", {"ev/1": (video(1), {**META, "score": 12.0, "split": "test"})})
    with pytest.raises(MergeError, match=r"video ev/1: metadata differs .* \(keys: score, split\)"):
        merge_stores(tmp_path / "o2.h5", [a, other_meta])
    assert not (tmp_path / "o1.h5").exists() and not (tmp_path / "o2.h5").exists()


def test_first_difference_decodes_before_calling_masks_different():
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 1
    canonical = rle.encode(mask)
    # the same mask with a zero-length run pair: different text, same pixels
    from pycocotools import mask as coco

    padded = coco.frPyObjects({"size": [4, 4], "counts": [5, 2, 0, 0, 2, 2, 5]}, 4, 4)
    other = {"size": [4, 4], "counts": padded["counts"].decode("ascii")}
    assert other["counts"] != canonical["counts"]
    a = LayerData(frames=np.array([7]), masks=[[canonical]], height=4, width=4)
    b = LayerData(frames=np.array([7]), masks=[[other]], height=4, width=4)
    assert first_difference(a, b) is None
    two = LayerData(frames=np.array([7]), masks=[[canonical, canonical]], height=4, width=4)
    assert first_difference(a, two) == "frame 7 has 1 vs 2 objects"
    swapped = LayerData(frames=np.array([7]), masks=[[canonical]], height=4, width=4, object_ids=[[2]])
    assert first_difference(a, swapped) == "frame 7 has object ids [1] vs [2]"


def test_out_must_not_exist_unless_forced(tmp_path):
    out = shard(tmp_path / "out.h5", {"ev/0": (video(0), META), "ev/1": (video(1), META)})
    part = shard(tmp_path / "p.h5", {"ev/1": (video(1), META), "ev/2": (video(2), META)})
    before = contents(out)
    with pytest.raises(MergeError, match="exists; pass force=True"):
        merge_stores(out, [part])
    summary = merge_stores(out, [part], force=True)
    assert summary["videos"] == 3
    assert summary["written"]["pseudo"] == 1  # ev/2; ev/1 is an identical duplicate of OUT's
    assert summary["identical_duplicates"] == 1
    after = contents(out)
    assert {k: after[k] for k in before} == before

    clash = shard(tmp_path / "clash.h5", {"ev/0": (video(5), META), "ev/7": (video(7), META)})
    with pytest.raises(MergeError, match=r"video ev/0: 'pseudo' masks differ between .*out\.h5 \(existing\)"):
        merge_stores(out, [clash], force=True)
    assert contents(out) == after


def test_bad_part_lists(tmp_path):
    a = shard(tmp_path / "a.h5", {"ev/1": (video(1), META)})
    with pytest.raises(MergeError, match="part given twice"):
        merge_stores(tmp_path / "o.h5", [a, tmp_path / "." / "a.h5"])
    with pytest.raises(MergeError, match="cannot also be the output"):
        merge_stores(a, [a], force=True)
    with pytest.raises(MergeError, match="no part stores"):
        merge_stores(tmp_path / "o.h5", [])
    assert not (tmp_path / "o.h5").exists()


def test_failure_while_writing_rolls_back(tmp_path, monkeypatch):
    """A fault in the middle of the writes (disk full, interrupt) leaves OUT as it was."""
    parts = [shard(tmp_path / f"p{k}.h5", {f"ev/{k}": (video(k), META)}) for k in range(4)]
    real_put = MaskStore.put
    calls = []

    def failing_put(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(MaskStore, "put", failing_put)
    out = tmp_path / "new.h5"
    with pytest.raises(OSError, match="No space left"):
        merge_stores(out, parts)
    assert not out.exists()

    existing = shard(tmp_path / "existing.h5", {"ev/0": (video(0), META)})
    before = contents(existing)
    calls.clear()
    with pytest.raises(OSError, match="No space left"):
        more = [*parts[1:], shard(tmp_path / "p9.h5", {"ev/9": (video(9), META)})]
        merge_stores(existing, more, force=True)
    assert contents(existing) == before
