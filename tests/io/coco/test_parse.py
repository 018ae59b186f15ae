"""Reading a bad COCO file back: one clear error naming the place, and the store byte-identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hm_annotate import rle
from hm_annotate.io.coco import CocoError, export_coco, import_coco, write_coco
from tests.io.coco.helpers import SOLO, H, W, store_bytes


def _break(data: dict, how: str) -> str:
    """Damage an exported file; returns the text the error must contain."""
    img = data["images"][3]
    ann = next(a for a in data["annotations"] if a["image_id"] == img["id"])
    where = f"image '{img['file_name']}' (video {img['video_id']}, frame {img['frame']})"
    if how == "unknown file_name":
        img["file_name"] = "elsewhere/clip/00103.jpg"
        del img["video_id"], img["frame"]
        return "image 'elsewhere/clip/00103.jpg': file name matches no video"
    if how == "size":
        img["width"] = 65
        return f"{where}: image size 48x65 does not match the video's 48x64"
    if how == "counts":
        ann["segmentation"] = {"size": [H, W], "counts": "0`:Z1!!"}
        return f"{where}: annotation {ann['id']}: "
    if how == "short counts":
        ann["segmentation"] = {"size": [H, W], "counts": [5, 7, 100]}
        return f"{where}: annotation {ann['id']}: uncompressed RLE counts sum to 112"
    if how == "polygon":
        ann["segmentation"] = [[1.0, 1.0, 5.0, 1.0, 6.0, 6.0], [3.0, 3.0, 9.0, 9.0]]
        return f"{where}: annotation {ann['id']}: polygon 1 has 2 points; a polygon needs at least 3"
    if how == "duplicate id":
        data["images"][5]["id"] = img["id"]
        other = data["images"][5]["file_name"]
        return f"image '{other}': duplicate image id {img['id']} (also in '{img['file_name']}')"
    if how == "frame outside":
        img["frame"] = 5000
        img["file_name"] = f"{img['video_id']}/05000.jpg"
        return f"image '{img['file_name']}' (video {img['video_id']}, frame 5000): frame 5000 is not a frame"
    if how == "name and fields disagree":
        name = img["file_name"]
        img["frame"] += 1
        return (
            f"image '{name}': file_name names video '{img['video_id']}' frame {img['frame'] - 1} but the "
            f"image's fields say video '{img['video_id']}' frame {img['frame']}"
        )
    if how == "frame outside by name":
        img["file_name"] = f"{SOLO}/00099.jpg"
        del img["video_id"], img["frame"]
        return f"image '{SOLO}/00099.jpg' (video {SOLO}, frame 99): frame 99 is not a frame of the video"
    if how == "rle size":
        ann["segmentation"] = rle.encode(np.zeros((H, W + 1), np.uint8))
        return f"{where}: annotation {ann['id']}: RLE size [48, 65] does not match the image 48x64"
    if how == "box only":
        ann["segmentation"] = []
        return f"{where}: annotation {ann['id']}: no segmentation"
    if how == "unknown image_id":
        ann["image_id"] = 12345
        return f"annotation {ann['id']} refers to unknown image_id 12345"
    if how == "categories":
        data["categories"] = [{"id": "one", "name": "athlete"}]
        return "'categories' must be a list of objects with integer ids"
    if how == "no athlete category":
        data["categories"] = [{"id": 1, "name": "person"}, {"id": 2, "name": "judge"}]
        return "several categories and none is named 'athlete'"
    raise AssertionError(how)


BAD = [
    "unknown file_name",
    "size",
    "counts",
    "short counts",
    "polygon",
    "duplicate id",
    "frame outside",
    "name and fields disagree",
    "frame outside by name",
    "rle size",
    "box only",
    "unknown image_id",
    "categories",
    "no athlete category",
]


@pytest.mark.parametrize("how", BAD)
def test_bad_input_is_one_clear_error_and_leaves_the_store_byte_identical(
    store: Path, tmp_path: Path, how: str
) -> None:
    data = export_coco(store)
    # a valid edit in another video, so a partial write would be visible
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != data["images"][-1]["id"]]
    expected = _break(data, how)
    path = write_coco(data, tmp_path / "bad.json")
    before = store_bytes(store)
    with pytest.raises(CocoError) as err:
        import_coco(path, store)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ") and expected in msg and "\n" not in msg
    assert store_bytes(store) == before


def test_unreadable_json_is_reported(store: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [')
    with pytest.raises(CocoError, match="bad.json: not valid JSON"):
        import_coco(bad, store)
    bad.write_text("[]")
    with pytest.raises(CocoError, match="a COCO file is a JSON object"):
        import_coco(bad, store)
