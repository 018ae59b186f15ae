import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore, StoreError, StoreLockedError, summarise, validate
from tests.masks import ellipse_masks, layer_from_masks, make_store

REPO = Path(__file__).resolve().parents[1]


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


def test_reader_refuses_foreign_newer_and_truncated_files(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(StoreError, match="not an hm-annotate mask store"):
        MaskStore.open(foreign)
    with pytest.raises(StoreError, match="not an hm-annotate mask store"):
        MaskStore.open(foreign, "a")
    assert h5py.File(foreign, "r")["x"][()] == 1  # untouched by the failed writer

    newer = tmp_path / "newer.h5"
    make_store(newer, {"v/1": 3})
    with h5py.File(newer, "r+") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(StoreError, match="schema_version 99 is newer"):
        MaskStore.open(newer)

    truncated = tmp_path / "trunc.h5"
    make_store(truncated, {"v/1": 30})
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match="truncated or damaged"):
        MaskStore.open(truncated)
    assert validate(truncated) and "truncated" in validate(truncated)[0]
    with pytest.raises(StoreError, match="no such store"):
        MaskStore.open(tmp_path / "missing.h5")


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


def test_validate_reports_inconsistencies_by_video_layer_and_frame(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"ev/7": 4})
    with h5py.File(path, "r+") as f:
        g = f["videos"]["ev%2F7"]["pseudo"]
        g["area"][1] = 5
        frames = g["frames"][()]
        frames[3] = frames[2]
        del g["frames"]
        g["frames"] = frames
        del f["videos"]["ev%2F7"].attrs["metadata"]
    findings = validate(path)
    text = "\n".join(findings)
    assert "video ev/7 layer pseudo: frame 102: frame numbers are not strictly increasing" in text
    assert "'metadata' is a required property" in text
    with h5py.File(path, "r+") as f:
        g = f["videos"]["ev%2F7"]["pseudo"]
        g["frames"][3] = 103
        f["videos"]["ev%2F7"].attrs["metadata"] = "{}"
    findings = validate(path)
    assert any("frame 101: stored area 5" in line for line in findings), findings
    with MaskStore.open(path) as st:
        true_area = rle.area(st.frame("ev/7", "pseudo", 101))[0]
    with h5py.File(path, "r+") as f:
        g = f["videos"]["ev%2F7"]["pseudo"]
        g["area"][1] = true_area
        counts = g["counts"][()]
        counts[3] = ord("~")
        del g["counts"]
        g["counts"] = counts
    assert any("malformed RLE" in line and "frame 100" in line for line in validate(path))


def test_spec_snippet_reads_a_mask_without_hm_annotate(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"FINADivingWorldCup2021_Men3m_final_r1/8": 5})
    spec = (REPO / "schemas" / "mask-store.md").read_text()
    code = spec.split("```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(code, "mask-store.md", "exec"), namespace)
    mask = namespace["read_mask"](str(path), "FINADivingWorldCup2021_Men3m_final_r1/8", 102, layer="pseudo")
    with MaskStore.open(path) as st:
        frames, masks = st.masks("FINADivingWorldCup2021_Men3m_final_r1/8", "pseudo")
    np.testing.assert_array_equal(mask, masks[2])


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from hm_annotate.store import MaskStore
    from tests.masks import ellipse_masks, layer_from_masks
    path, n = sys.argv[1], int(sys.argv[2])
    with MaskStore.open(path, "a") as st:
        for i in range(n):
            st.put(f"video/{i:04d}", "pseudo", layer_from_masks(ellipse_masks(20, seed=i)), metadata={"i": i})
            print(i, flush=True)
    """
)


def test_sigkill_during_commits_keeps_exactly_the_committed_videos(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"existing/1": 5})
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "400"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    done = []
    for line in proc.stdout:
        done.append(int(line))
        if len(done) == 40:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with MaskStore.open(path) as st:
        ids = st.videos()
    committed = {f"video/{i:04d}" for i in range(len(ids) - 1)}
    # every video whose put returned is there; at most the one in flight beyond that
    assert {f"video/{i:04d}" for i in done} <= set(ids)
    assert set(ids) == {"existing/1"} | committed
    assert len(ids) - 1 <= len(done) + 1
    assert validate(path) == []
    with MaskStore.open(path, "a") as st:  # the next writer folds the journal in
        assert st.journal_parts() == 0
        assert st.videos() == ids
        st.put("after/1", "pseudo", layer_from_masks(ellipse_masks(3)))
    with MaskStore.open(path) as st:
        assert len(st.videos()) == len(ids) + 1
        last = sorted(committed)[-1]
        np.testing.assert_array_equal(st.masks(last, "pseudo")[1], ellipse_masks(20, seed=len(ids) - 2))
    assert not (tmp_path / "m.h5.journal").exists()


def test_store_never_written_in_place(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"v/1": 3})
    inode = path.stat().st_ino
    with MaskStore.open(path, "a") as st:
        st.put("v/2", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert path.stat().st_ino == inode  # live file untouched while writing
    assert path.stat().st_ino != inode  # replaced whole on close
    assert json.loads(json.dumps(validate(path))) == []


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


# ----------------------------------------------------------------------------- hostile stores (issue 14)


@pytest.mark.parametrize("bad_id", ["../../x/0", "/abs/0", "a/../../b"])
def test_unsafe_video_ids_are_refused_on_write_reported_by_validate_and_refused_on_read(tmp_path, bad_id):
    from hm_annotate.safe_paths import UnsafePathError
    from tests.hostile import store_with_id

    with MaskStore.open(tmp_path / "w.h5", "a") as st, pytest.raises(UnsafePathError):
        st.put(bad_id, "pseudo", layer_from_masks(ellipse_masks(2)))
    path = store_with_id(tmp_path / "m.h5", bad_id)
    assert any("video id" in m for m in validate(path))
    with pytest.raises(StoreError, match="video id"):
        MaskStore.open(path)


def test_rle_runs_past_2_64_are_caught_by_validate_and_every_reader(tmp_path):
    from tests.hostile import OVERFLOW_COUNTS, store_with_counts

    path = store_with_counts(tmp_path / "m.h5", OVERFLOW_COUNTS.encode())
    assert any("frame 100" in m and "malformed RLE" in m for m in validate(path))
    with MaskStore.open(path) as st:
        for read in (
            lambda: st.read("clip", "pseudo"),
            lambda: st.masks("clip", "pseudo"),
            lambda: st.frame("clip", "pseudo", 100),
            lambda: st.read("clip", "curated"),
        ):
            with pytest.raises(StoreError, match="video clip layer pseudo frame 100 object 1"):
                read()


@pytest.mark.parametrize("kind", ["int64", "vlen", "missing", "offsets"])
def test_mistyped_or_missing_datasets_are_one_error_not_a_crash(tmp_path, kind):
    path = tmp_path / "m.h5"
    make_store(path, {"clip": 2})
    with h5py.File(path, "r+") as f:
        g = f["videos/clip/pseudo"]
        blob = g["counts"][()]
        del g["counts"]
        if kind == "int64":
            g.create_dataset("counts", data=blob.astype(np.int64))
        elif kind == "vlen":
            g.create_dataset("counts", data=[blob.tobytes()], dtype=h5py.string_dtype())
        elif kind == "offsets":
            g.create_dataset("counts", data=blob)
            g["counts_offsets"][1] = 10**12
    assert validate(path)
    with MaskStore.open(path) as st:
        for read in (lambda: st.read("clip", "pseudo"), lambda: st.masks("clip", "pseudo")):
            with pytest.raises(StoreError, match="video clip layer pseudo"):
                read()


def test_damaged_store_structure_is_one_error(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"clip": 2})
    with h5py.File(path, "r+") as f:
        f["videos/clip"].attrs["metadata"] = "{not json"
    with MaskStore.open(path) as st, pytest.raises(StoreError, match="video clip: attribute 'metadata'"):
        st.metadata("clip")
    assert any("not valid JSON" in m for m in validate(path))
    with h5py.File(path, "r+") as f:
        f["videos"]["loop"] = h5py.SoftLink("/videos/loop")
    with pytest.raises(StoreError, match="unreachable link"):
        MaskStore.open(path)
    assert any("unreachable link" in m for m in validate(path))
    make_store(tmp_path / "n.h5", {"clip": 2})
    with h5py.File(tmp_path / "n.h5", "r+") as f:
        f.attrs["schema_version"] = "one"
        del f["videos"]
    with pytest.raises(StoreError, match="schema_version"):
        MaskStore.open(tmp_path / "n.h5")
    assert any("schema_version" in m for m in validate(tmp_path / "n.h5"))


def test_a_fifo_as_store_is_refused_at_once(tmp_path):
    fifo = tmp_path / "m.h5"
    os.mkfifo(fifo)
    for mode in ("r", "a"):
        with pytest.raises(StoreError, match="not a regular file"):
            MaskStore.open(fifo, mode)
    assert validate(fifo) == [f"{fifo}: not a regular file"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]


# ----------------------------------------------------------------------------- new stores and stale temps


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_new_store_appears_only_when_complete_and_leaves_nothing_on_failure(tmp_path):
    from hm_annotate.store import new_store

    path = tmp_path / "m.h5"
    with pytest.raises(RuntimeError), new_store(path) as st:
        st.put("ev/1", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert not path.exists()
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with new_store(path) as st:
        st.put("ev/1", "pseudo", layer_from_masks(ellipse_masks(2)))
        assert not path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m.h5"] and validate(path) == []
    with pytest.raises(StoreError, match="exists"), new_store(path):
        pass


def test_temps_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"ev/1": 2})
    dead, alive = _dead_pid(), os.getppid()
    stale = [f".m.h5.{dead}.tmp", f".m.h5.{dead}.new", f".m.h5.{dead}.new.lock"]
    stale.append(f"..m.h5.{dead}.new.{dead}.tmp")
    for name in stale + [f".m.h5.{alive}.tmp"]:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / f".m.h5.{dead}.new.journal").mkdir()
    (tmp_path / f".m.h5.{dead}.new.journal" / "00000000.h5").write_bytes(b"x")
    with MaskStore.open(path, "a"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.h5", "m.h5.lock", f".m.h5.{alive}.tmp"])


# ----------------------------------------------------------------------------- provenance and attribute caps


def test_provenance_keeps_only_referenced_distinct_records_so_the_int16_index_never_overflows(tmp_path):
    path = tmp_path / "m.h5"
    base = layer_from_masks(ellipse_masks(3), provenance=[{"tool": "sam"}])
    with MaskStore.open(path, "a") as st:
        st.put("ev/1", "corrected", base)
        for k in range(4):  # every import appends a record; replaced frames drop theirs
            top = layer_from_masks(ellipse_masks(1), provenance=[{"source": f"fix{k % 2}.json"}])
            st.put("ev/1", "corrected", top, merge=True)
        many = layer_from_masks(
            ellipse_masks(2),
            provenance=[{"source": f"import {k}"} for k in range(40_000)],
            provenance_index=np.array([32_767, 39_999]),
        )
        st.put("ev/2", "corrected", many)
    assert validate(path) == []
    with MaskStore.open(path) as st:
        d = st.read("ev/1", "corrected")
        assert d.provenance == [{"tool": "sam"}, {"source": "fix1.json"}]
        by_frame = [d.provenance[i] for i in d.provenance_index]
        assert by_frame == [{"source": "fix1.json"}] + [{"tool": "sam"}] * 2
        d2 = st.read("ev/2", "corrected")
        assert [d2.provenance[i]["source"] for i in d2.provenance_index] == ["import 32767", "import 39999"]


def test_huge_metadata_or_provenance_is_refused_and_nothing_written(tmp_path):
    path = tmp_path / "m.h5"
    make_store(path, {"ev/1": 2})
    before = path.read_bytes()
    with MaskStore.open(path, "a") as st:
        with pytest.raises(StoreError, match="metadata is"):
            st.set_metadata("ev/1", {"contributor": "x" * (2 << 20)})
        big = layer_from_masks(ellipse_masks(2), provenance=[{"user": "x" * (2 << 20)}])
        with pytest.raises(StoreError, match="provenance is"):
            st.put("ev/1", "corrected", big)
    assert path.read_bytes() == before
