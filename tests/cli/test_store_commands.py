"""info, validate, import-masks and export-masks through the real console entry point."""

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from hm_annotate.store import MaskStore
from tests.console import run
from tests.masks import ellipse_masks, make_store


def _mask_tree(root: Path) -> None:
    """A FineDiving-HM-like tree: two videos, gray JPGs named by absolute frame numbers."""
    for vid, first, seed in (("FINADivingWorldCup2021_Men3m_final_r1/8", 489, 0), ("Ev_synchro/2", 7, 1)):
        folder = root / vid
        folder.mkdir(parents=True)
        for i, m in enumerate(ellipse_masks(5, 40, 72, seed=seed)):
            cv2.imwrite(str(folder / f"{first + i:05d}.jpg"), m * 255)


def _binary_files(root: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(root).as_posix(): cv2.imread(str(p), cv2.IMREAD_UNCHANGED) >= 128
        for p in sorted(root.rglob("*.jpg"))
    }


def test_import_export_round_trip_file_for_file_and_info_validate(tmp_path):
    src, store, out = tmp_path / "hm", tmp_path / "masks.h5", tmp_path / "out"
    _mask_tree(src)
    r = run("import-masks", str(src), "--format", "finediving-hm", "--out", str(store))
    assert r.returncode == 0, r.stderr
    assert "imported 10 masks of 2 videos" in r.stdout
    r = run("export-masks", str(store), "--format", "finediving-hm", "--out", str(out))
    assert r.returncode == 0, r.stderr
    original, exported = _binary_files(src), _binary_files(out)
    assert sorted(original) == sorted(exported)
    for name in original:
        np.testing.assert_array_equal(original[name], exported[name], err_msg=name)

    info = json.loads(run("info", str(store), "--json").stdout)
    assert info["videos"] == 2 and info["schema_version"] == 1
    assert info["layers"]["corrected"]["masks"] == 10 and info["layers"]["pseudo"]["frames"] == 0
    text = run("info", str(store)).stdout
    assert "corrected" in text and "videos" in text
    r = run("validate", str(store), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["valid"] is True


def test_validate_exits_1_with_one_line_per_finding(tmp_path):
    store = tmp_path / "m.h5"
    make_store(store, {"v/1": 4})
    with h5py.File(store, "r+") as f:
        f["videos"]["v%2F1"]["pseudo"]["area"][2] = 0
    r = run("validate", str(store))
    assert r.returncode == 1
    assert r.stdout.strip().splitlines() == [
        f"{store}: video v/1 layer pseudo: frame 102: stored area 0 but the RLE covers "
        f"{int(ellipse_masks(4, seed=0)[2].sum())} pixels"
    ]


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "no mask for this frame"),
        ("rgb", "mask has 3 channels"),
        ("size", "mask is 40x72, expected 44x72"),
        ("unreadable", "unreadable image"),
    ],
)
def test_bad_mask_trees_fail_with_one_line_and_leave_the_store_untouched(tmp_path, damage, message):
    src, frames, store = tmp_path / "hm", tmp_path / "frames", tmp_path / "masks.h5"
    _mask_tree(src)
    vid = "Ev_synchro/2"
    (frames / vid).mkdir(parents=True)
    for p in (src / vid).iterdir():
        cv2.imwrite(str(frames / vid / p.name), np.zeros((40, 72, 3), np.uint8))
    (frames / "FINADivingWorldCup2021_Men3m_final_r1").mkdir()
    (frames / "FINADivingWorldCup2021_Men3m_final_r1" / "8").symlink_to(
        src / "FINADivingWorldCup2021_Men3m_final_r1/8"
    )
    make_store(store, {"already/1": 3})
    before = store.read_bytes()
    target = src / vid / "00009.jpg"
    if damage == "missing":
        target.unlink()
    elif damage == "rgb":
        cv2.imwrite(str(target), np.zeros((40, 72, 3), np.uint8))
    elif damage == "size":
        cv2.imwrite(str(frames / vid / "00009.jpg"), np.zeros((44, 72, 3), np.uint8))
    else:
        target.write_bytes(b"\xff\xd8 broken")
    r = run(
        "import-masks",
        str(src),
        "--format",
        "finediving-hm",
        "--out",
        str(store),
        "--frames-root",
        str(frames),
    )
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "video Ev_synchro/2 frame 9" in errors[0], r.stderr
    assert store.read_bytes() == before
    assert not (tmp_path / "masks.h5.journal").exists()


def test_stores_that_are_not_ours_newer_truncated_or_locked(tmp_path):
    src = tmp_path / "hm"
    _mask_tree(src)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    newer = tmp_path / "newer.h5"
    make_store(newer, {"v/1": 2})
    with h5py.File(newer, "r+") as f:
        f.attrs["schema_version"] = 2
    truncated = tmp_path / "trunc.h5"
    make_store(truncated, {"v/1": 40})
    truncated.write_bytes(truncated.read_bytes()[:3000])
    for path, message in (
        (foreign, "not an hm-annotate mask store"),
        (newer, "schema_version 2 is newer"),
        (truncated, "truncated or damaged"),
    ):
        before = path.read_bytes()
        for args in (
            ("info", str(path)),
            ("import-masks", str(src), "--format", "finediving-hm", "--out", str(path)),
        ):
            r = run(*args)
            assert r.returncode == 1 and r.stderr.count("\n") == 1 and message in r.stderr, (args, r.stderr)
        assert path.read_bytes() == before

    locked = tmp_path / "locked.h5"
    make_store(locked, {"v/1": 2})
    before = locked.read_bytes()
    with MaskStore.open(locked, "a"):
        r = run("import-masks", str(src), "--format", "finediving-hm", "--out", str(locked))
    assert r.returncode == 1 and "is writing this store" in r.stderr and r.stderr.count("\n") == 1
    assert locked.read_bytes() == before


def test_export_unknown_video_is_a_clear_error(tmp_path):
    store = tmp_path / "m.h5"
    make_store(store, {"v/1": 2})
    r = run(
        "export-masks",
        str(store),
        "--format",
        "finediving-hm",
        "--out",
        str(tmp_path / "o"),
        "--videos",
        "nope/1",
    )
    assert r.returncode == 1 and "video 'nope/1' has no 'curated' masks" in r.stderr
