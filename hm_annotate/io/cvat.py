"""A video's masks packaged for correction in CVAT, through its "COCO 1.0" importer.

CVAT imports COCO annotations as a zip holding ``annotations/instances_default.json`` and
matches every COCO ``file_name`` (without extension) to the name of a task image. A task made
from a zip of images keeps the paths inside the zip as its image names, so the export writes two
zips with the same names in both:

- ``<task>.zip``: ``annotations/instances_default.json``, the video's masks as RLE (which
  CVAT's importer turns into mask shapes), with the custom attributes ``source``, ``score``,
  ``object_id``;
- ``<task>_images.zip``: exactly the exported frames, stored under their ``file_name`` (the
  original JPEG bytes, not re-encoded).

In CVAT: create a task with the label ``athlete`` (add a number attribute ``object_id`` so that
synchronised divers keep their ids; see ``CVAT_LABELS`` for the raw label JSON), upload
``<task>_images.zip`` as its data, then "Upload annotations" with format "COCO 1.0" and
``<task>.zip``. After correcting, "Export task dataset" as "COCO 1.0" and bring the
``instances_default.json`` back with ``hm-annotate import-coco``. Only the exported frames go into
the task: CVAT exports every task image, and an image without masks means "no athlete" on import.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hm_annotate.io.coco import CocoError, export_coco
from hm_annotate.safe_paths import inside

ANNOTATIONS_NAME = "annotations/instances_default.json"
# CVAT's raw label constructor: one mask label with a number attribute [min, max, step]
CVAT_LABELS = [
    {
        "name": "athlete",
        "type": "mask",
        "attributes": [
            {"name": "object_id", "input_type": "number", "mutable": False, "values": ["1", "255", "1"]}
        ],
    }
]


@dataclass
class CvatExport:
    """Paths written and what they hold."""

    annotations: Path
    images: Path | None
    frames: int
    masks: int


def _write_zip_atomic(path: Path, entries: list[tuple[str, bytes | Path]], compression: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=compression) as zf:
            for name, content in entries:
                if isinstance(content, Path):
                    zf.write(content, arcname=name)
                else:
                    zf.writestr(name, content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_cvat(
    store_path: str | os.PathLike,
    video_id: str,
    frames_root: str | os.PathLike,
    out: str | os.PathLike,
    images_out: str | os.PathLike | None = None,
    with_images: bool = True,
    layer: str = "curated",
    file_name_pattern: str | None = None,
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
) -> CvatExport:
    """Write the annotations zip (and the task images zip) of one video for CVAT.

    File names as for ``export_coco``; every frame image is checked to exist under
    ``frames_root`` before anything is written.
    """
    out = Path(out)
    data = export_coco(store_path, layer, [video_id], None, file_name_pattern, False, frame_paths)
    root = Path(frames_root)
    images: list[tuple[str, bytes | Path]] = []
    for img in data["images"]:
        path = inside(root, img["file_name"], f"video {video_id} frame {img['frame']}: file name")
        if with_images and not path.is_file():
            raise CocoError(
                f"{path}: video {video_id} frame {img['frame']}: frame image not found under {root} "
                "(check --frames-root and --file-name-pattern)"
            )
        images.append((img["file_name"], path))
    images_path = None
    if with_images:
        images_path = Path(images_out) if images_out else out.with_name(f"{out.stem}_images.zip")
        _write_zip_atomic(images_path, images, zipfile.ZIP_STORED)
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
    _write_zip_atomic(out, [(ANNOTATIONS_NAME, payload)], zipfile.ZIP_DEFLATED)
    return CvatExport(out, images_path, len(data["images"]), len(data["annotations"]))
