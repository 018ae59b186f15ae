"""Fuzz cases that crashed, hung, traced back or wrote outside --out (issue 14), kept as
regression tests: each runs the console script in a subprocess with a time limit and wants one
``error:`` line, exit status 1, and nothing written or changed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import h5py
import pytest

from hm_annotate.io.coco import export_coco, write_coco
from tests.hostile import OVERFLOW_COUNTS, one_line_error, run, store_with_counts, store_with_id
from tests.masks import make_store

VID = "FINADivingWorldCup2021_Men3m_final_r1/8"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def coco(tmp_path: Path) -> tuple[Path, Path, dict]:
    store = tmp_path / "m.h5"
    make_store(store, {VID: 3})
    path = write_coco(export_coco(store), tmp_path / "all.json")
    return store, path, json.loads(path.read_text())


def import_fails(store: Path, path: Path, data: dict | str, match: str) -> None:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    before = store.read_bytes()
    line = one_line_error(run("import-coco", str(path), "--store", str(store)))
    assert match in line, line
    assert store.read_bytes() == before


@pytest.mark.parametrize(
    "ring, match",
    [
        ([0.5, 0.5, 4e8 + 0.5, 0.5, 0.5, 4e8 + 0.5], "outside the 64x48 image"),
        ([0.5, 0.5, 1e12, 0.5, 0.5, 1e12], "outside"),
        ([0.5, 0.5, 1e308, 0.5, 0.5, 1e308], "outside"),
        ([0.5, 0.5, 5e7, 0.5, 0.5, 5e7], "outside"),
        ([-3.5, 0.5, 10.5, 0.5, 0.5, 10.5], "outside"),
    ],
)
def test_polygons_with_huge_coordinates_are_one_line(coco, ring, match):
    store, path, data = coco
    data["annotations"][0]["segmentation"] = [ring]
    import_fails(store, path, data, match)


def test_rle_past_2_64_is_refused_by_import_coco(coco):
    store, path, data = coco
    data["annotations"][0]["segmentation"] = {"size": [48, 64], "counts": OVERFLOW_COUNTS}
    import_fails(store, path, data, "run length")


@pytest.mark.parametrize(
    "text, match",
    [
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ('{"images": [], "x": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_json_bombs_are_one_line(coco, text, match):
    store, path, _ = coco
    import_fails(store, path, text, match)


@pytest.mark.parametrize("value", [2**32, 10**400, "1" * 5000])
def test_huge_object_ids_and_counts_are_one_line(coco, value):
    store, path, data = coco
    data["annotations"][0]["attributes"]["object_id"] = value
    import_fails(store, path, data, "object_id")
    data["annotations"][0]["attributes"]["object_id"] = 1
    data["annotations"][0]["segmentation"] = {"size": [48, 64], "counts": [value, 3072 - 1]}
    import_fails(store, path, data, "uncompressed RLE counts")


def test_more_than_32767_objects_on_a_frame_is_one_line(coco):
    store, path, data = coco
    ann = dict(data["annotations"][0], attributes={})
    data["annotations"] = [dict(ann, id=k) for k in range(2**15)]
    import_fails(store, path, data, "more than 32767 objects")


def test_a_50_mb_contributor_is_refused(coco):
    store, path, data = coco
    data["info"] = {"contributor": "x" * (50 << 20)}
    import_fails(store, path, data, "info.contributor")


@pytest.mark.parametrize("fmt", ["finediving-hm", "davis"])
@pytest.mark.parametrize("bad_id", ["../../x/0", "/tmp/abs/0", "a/../../b"])
def test_export_masks_never_writes_outside_out(tmp_path, fmt, bad_id):
    store = store_with_id(tmp_path / "m.h5", bad_id)
    out = tmp_path / "sub" / "out"
    line = one_line_error(run("export-masks", str(store), "--format", fmt, "--out", str(out)))
    assert "video id" in line
    assert tree(tmp_path) == ["m.h5", "m.h5.lock"] or tree(tmp_path) == ["m.h5"]
    assert "video id" in run("validate", str(store)).stdout


def test_export_masks_refuses_a_symlink_in_out_that_leaves_it(tmp_path):
    store = tmp_path / "m.h5"
    make_store(store, {"ev/1": 2})
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    (out / "Annotations" / "480p").mkdir(parents=True)
    elsewhere.mkdir()
    (out / "Annotations" / "480p" / "ev").symlink_to(elsewhere)
    line = one_line_error(run("export-masks", str(store), "--format", "davis", "--out", str(out)))
    assert "outside" in line and list(elsewhere.iterdir()) == []


def test_export_cvat_refuses_frame_names_outside_frames_root(tmp_path):
    store = tmp_path / "m.h5"
    make_store(store, {"ev/1": 2})
    frames = tmp_path / "frames"
    frames.mkdir()
    (tmp_path / "secret").mkdir()
    for n in (100, 101):
        (tmp_path / "secret" / f"{n:05d}.jpg").write_bytes(b"\xff\xd8secret\xff\xd9")
    out = tmp_path / "task.zip"
    line = one_line_error(
        run(
            "export-cvat", str(store), "--video", "ev/1", "--frames-root", str(frames), "--out", str(out),
            "--file-name-pattern", "../secret/{frame:05d}.jpg",
        )
    )
    assert "file name" in line and not out.exists()
    assert not (tmp_path / "task_images.zip").exists()


@pytest.mark.parametrize("command", ["info", "validate", "stats", "export-coco", "review", "export-masks"])
def test_stored_rle_past_2_64_is_one_line_in_every_reader(tmp_path, command):
    store = store_with_counts(tmp_path / "m.h5", OVERFLOW_COUNTS.encode())
    args = {
        "export-coco": ["--out", str(tmp_path / "c.json")],
        "export-masks": ["--format", "finediving-hm", "--out", str(tmp_path / "out")],
    }.get(command, [])
    r = run(command, str(store), *args)
    if command == "info":  # info reads no RLE
        assert r.returncode == 0, r.stderr
        return
    if command == "validate":
        assert r.returncode == 1 and "frame 100: malformed RLE" in r.stdout
        return
    assert "frame 100 object 1" in one_line_error(r)
    assert not (tmp_path / "c.json").exists() and not (tmp_path / "out").exists()


def test_corrupted_counts_byte_makes_stats_fail_fast(tmp_path):
    store = tmp_path / "m.h5"
    make_store(store, {"ev/1": 4})
    with h5py.File(store, "r+") as f:
        f["videos/ev%2F1/pseudo/counts"][3] = ord("o")
    assert "ev/1" in one_line_error(run("stats", str(store), timeout=30))


@pytest.mark.parametrize("command", ["info", "validate", "stats", "export-coco"])
def test_a_fifo_as_store_is_refused_not_waited_on(tmp_path, command):
    fifo = tmp_path / "m.h5"
    os.mkfifo(fifo)
    args = ["--out", str(tmp_path / "c.json")] if command == "export-coco" else []
    r = run(command, str(fifo), *args, timeout=30)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "not a regular file" in r.stdout + r.stderr


def _png(width: int, height: int) -> bytes:
    """A palette PNG header claiming any size, with a little zlib data (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    body = zlib.compress(b"\x00" * (width + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"PLTE", b"\x00" * 6) + chunk(
        b"IDAT", body
    ) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(60000, 60000), (9000, 9000)])
def test_png_decompression_bomb_is_one_line_and_no_store(tmp_path, size):
    (tmp_path / "masks" / "ev" / "1").mkdir(parents=True)
    (tmp_path / "masks" / "ev" / "1" / "00001.png").write_bytes(_png(*size))
    out = tmp_path / "new.h5"
    r = run("import-masks", str(tmp_path / "masks"), "--format", "davis", "--out", str(out), timeout=60)
    assert "frame 1" in one_line_error(r)
    assert tree(tmp_path) == ["masks", "masks/ev", "masks/ev/1", "masks/ev/1/00001.png"]


def _mask_tree(root: Path, videos: list[str]) -> None:
    import cv2
    import numpy as np

    for vid in videos:
        (root / vid).mkdir(parents=True)
        for n in (1, 2):
            m = np.zeros((8, 8), np.uint8)
            m[2:5, 2:5] = 255
            cv2.imwrite(str(root / vid / f"{n:05d}.png"), m)


def _import(src: Path, out: Path) -> subprocess.CompletedProcess:
    return run("import-masks", str(src), "--format", "finediving-hm", "--out", str(out))


def test_symlinked_video_folder_inside_the_tree_is_followed(tmp_path):
    from hm_annotate.store import MaskStore

    _mask_tree(tmp_path / "masks", ["real/1"])
    (tmp_path / "masks" / "alias").symlink_to(tmp_path / "masks" / "real")
    r = _import(tmp_path / "masks", tmp_path / "m.h5")
    assert r.returncode == 0, r.stderr
    with MaskStore.open(tmp_path / "m.h5") as st:
        assert st.videos() == ["alias/1", "real/1"]


@pytest.mark.parametrize("kind", ["folder outside", "frame outside", "dangling frame"])
def test_symlinks_leaving_the_tree_or_dangling_are_refused_not_skipped(tmp_path, kind):
    _mask_tree(tmp_path / "masks", ["ev/1"])
    _mask_tree(tmp_path / "elsewhere", ["ev/2"])
    if kind == "folder outside":
        (tmp_path / "masks" / "ev" / "2").symlink_to(tmp_path / "elsewhere" / "ev" / "2")
    elif kind == "frame outside":
        (tmp_path / "masks" / "ev" / "1" / "00003.png").symlink_to(tmp_path / "elsewhere" / "ev/2/00001.png")
    else:
        (tmp_path / "masks" / "ev" / "1" / "00003.png").symlink_to(tmp_path / "nowhere.png")
    line = one_line_error(_import(tmp_path / "masks", tmp_path / "m.h5"))
    assert ("outside" if "outside" in kind else "dangling") in line
    assert not (tmp_path / "m.h5").exists()


def test_importing_a_correction_over_a_stored_rle_past_2_64_is_one_line_not_a_hang(tmp_path):
    clean = tmp_path / "clean.h5"
    make_store(clean, {"clip": 1}, h=256, w=456)
    coco_path = write_coco(export_coco(clean), tmp_path / "fix.json")
    store = store_with_counts(tmp_path / "m.h5", OVERFLOW_COUNTS.encode())
    before = store.read_bytes()
    line = one_line_error(run("import-coco", str(coco_path), "--store", str(store), timeout=60))
    assert "frame 100 object 1" in line and store.read_bytes() == before
