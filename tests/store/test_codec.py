"""The on-disk form: foreign, newer and damaged files, hostile RLEs and datasets, provenance, sizes."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from hm_annotate.store import MaskStore, StoreError, validate
from tests.masks import ellipse_masks, layer_from_masks, make_store

REPO = Path(__file__).resolve().parents[2]


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


def test_single_frames_read_across_counts_chunks_and_whatever_filters_a_writer_chose(tmp_path):
    masks = (np.random.default_rng(0).random((40, 64, 64)) < 0.5).astype(np.uint8)  # counts > one chunk
    path = tmp_path / "m.h5"
    with MaskStore.open(path, "a") as st:
        st.put("v/1", "pseudo", layer_from_masks(masks))
    with MaskStore.open(path) as st:
        want = st.read("v/1", "pseudo").masks
        order = (39, 0, 20, 21, 1)  # chunks out of order, each read first by a single frame
        assert [st.frame("v/1", "pseudo", f) for f in order] == [want[f] for f in order]
        assert [st.frame("v/1", "pseudo", f) for f in range(40)] == want
    with h5py.File(path, "r") as f:
        assert f["videos/v%2F1/pseudo/counts"].shape[0] > f["videos/v%2F1/pseudo/counts"].chunks[0]
    for options in ({}, {"compression": "gzip", "shuffle": True, "chunks": (1000,)}, {"chunks": (999,)}):
        with h5py.File(path, "r+") as f:
            g = f["videos/v%2F1/pseudo"]
            blob = g["counts"][()]
            del g["counts"]
            g.create_dataset("counts", data=blob, **options)
        with MaskStore.open(path) as st:
            assert [st.frame("v/1", "pseudo", f) for f in range(40)] == want
