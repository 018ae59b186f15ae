"""validate: findings by file, video, layer and frame."""


import h5py
import pytest

from hm_annotate import rle
from hm_annotate.store import MaskStore, StoreError, validate
from tests.masks import ellipse_masks, layer_from_masks, make_store


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


def test_validate_reads_the_journal_parts_readers_read(tmp_path):
    """A killed writer leaves committed parts in ``<store>.journal``; validate checks each part
    that readers fold in, and names the part at fault."""
    path = tmp_path / "m.h5"
    make_store(path, {"a/0": 3})
    kept = tmp_path / "kept"
    with MaskStore.open(path, "a") as st:
        st.put("b/1", "pseudo", layer_from_masks(ellipse_masks(3)))
        kept.mkdir()
        for part in st.journal.iterdir():  # what a SIGKILL here would leave on disk
            if not part.name.startswith("."):
                (kept / part.name).write_bytes(part.read_bytes())
    journal = path.with_name(path.name + ".journal")
    journal.mkdir()
    (part,) = kept.iterdir()
    (journal / part.name).write_bytes(part.read_bytes())
    assert validate(path) == []
    with h5py.File(journal / part.name, "r+") as f:
        f["videos"]["b%2F1"]["pseudo"]["area"][0] = 1
    (finding,) = validate(path)
    assert finding.startswith(f"{journal / part.name}: ") and "frame 0: stored area 1" in finding
