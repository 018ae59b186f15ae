"""COCO file names both ways: patterns, dataset frame paths, per-video metadata patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from hm_annotate.io.coco import (
    DEFAULT_FILE_NAME_PATTERN,
    CocoError,
    FileNamePattern,
    FrameNameIndex,
    FrameNames,
    export_coco,
    import_coco,
    write_coco,
)
from tests.io.coco.helpers import SOLO, make_store


def test_file_name_patterns_format_and_read_back() -> None:
    p = FileNamePattern("{video_id}/img_{frame:05d}.png")
    assert p.format("a/b", 7) == "a/b/img_00007.png"
    index = FrameNameIndex({"a/b": p, "a/c": p})
    assert index.lookup("a/b/img_00007.png") == ("a/b", 7)
    assert index.lookup("a/c/img_123456.png") == ("a/c", 123456)
    assert index.lookup("a/d/img_00007.png") is None
    assert index.lookup("a/b/img_00007.jpg") is None
    flat = FileNamePattern("{frame:05d}.jpg")
    assert FrameNameIndex({"a/b": flat}).lookup("00489.jpg") == ("a/b", 489)
    with pytest.raises(CocoError, match="the same file names"):
        FrameNameIndex({"a/b": flat, "a/c": flat})
    for bad, why in [
        ("{video_id}.jpg", "exactly once"),
        ("{frame}{frame}.jpg", "exactly once"),
        ("{clip}/{frame}.jpg", "unknown field"),
        ("{video_id}/{frame:s}.jpg", "file-name pattern"),
    ]:
        with pytest.raises(CocoError, match=why):
            FileNamePattern(bad)
    with pytest.raises(CocoError, match="directly follows a digit"):
        FileNamePattern("{video_id}{frame}.jpg").split("v1")


def test_dataset_frame_paths_name_frames_a_pattern_cannot() -> None:
    names = FrameNames(
        {
            "diving/001": FileNamePattern(DEFAULT_FILE_NAME_PATTERN),
            "diving/002": FileNamePattern("{frame}.jpg"),
        },
        {"diving/001": {1: "diving-out/001/img_00001.jpg", 2: "diving-out/001/img_00002.jpg"}, "other/9": {}},
    )
    assert names.name("diving/001", 2) == "diving-out/001/img_00002.jpg"
    assert names.lookup("diving-out/001/img_00002.jpg") == ("diving/001", 2)
    assert names.name("diving/002", 7) == "7.jpg" and names.lookup("0007.jpg") == ("diving/002", 7)
    assert names.lookup("diving/001/00002.jpg") is None
    with pytest.raises(CocoError, match="video 'diving/001' frame 3: the dataset has no such frame"):
        names.name("diving/001", 3)


def test_metadata_pattern_is_used_both_ways(tmp_path: Path) -> None:
    store = make_store(
        tmp_path / "m.h5", metadata={"frame_name_pattern": "diving-out/001/img_{frame:05d}.jpg"}
    )
    data = export_coco(store, videos=[SOLO])
    assert data["images"][0]["file_name"] == "diving-out/001/img_00100.jpg"
    for img in data["images"]:  # rely on the pattern alone, as a file from CVAT would
        del img["video_id"], img["frame"]
    write_coco(data, tmp_path / "m.json")
    summary = import_coco(tmp_path / "m.json", store, dry_run=True)
    assert (summary.videos, summary.unchanged) == (1, 12)
