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
Several videos make one task each (``export_cvat_tasks``).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hm_annotate.io.coco import CocoError, export_coco
from hm_annotate.safe_paths import inside
from hm_annotate.store import group_name

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


def _task(
    store_path: str | os.PathLike,
    video_id: str,
    frames_root: Path,
    with_images: bool,
    layer: str,
    file_name_pattern: str | None,
    frame_paths: Mapping[str, Mapping[int, str]] | None,
) -> tuple[dict, list[tuple[str, bytes | Path]]]:
    """One video's COCO dict and task images, every frame image checked to exist."""
    data = export_coco(
        store_path, layer, videos=[video_id], file_name_pattern=file_name_pattern, frame_paths=frame_paths
    )
    images: list[tuple[str, bytes | Path]] = []
    for img in data["images"]:
        path = inside(frames_root, img["file_name"], f"video {video_id} frame {img['frame']}: file name")
        if with_images and not path.is_file():
            raise CocoError(
                f"{path}: video {video_id} frame {img['frame']}: frame image not found under {frames_root} "
                "(check frames_root and file_name_pattern)"
            )
        images.append((img["file_name"], path))
    return data, images


def _write_task(
    data: dict, images: list[tuple[str, bytes | Path]], out: Path, images_path: Path | None
) -> CvatExport:
    if images_path is not None:
        _write_zip_atomic(images_path, images, zipfile.ZIP_STORED)
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")
    _write_zip_atomic(out, [(ANNOTATIONS_NAME, payload)], zipfile.ZIP_DEFLATED)
    return CvatExport(out, images_path, len(data["images"]), len(data["annotations"]))


def export_cvat(
    store_path: str | os.PathLike,
    video_id: str,
    frames_root: str | os.PathLike,
    out: str | os.PathLike,
    *,
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
    data, images = _task(store_path, video_id, Path(frames_root), with_images, layer, file_name_pattern,
                         frame_paths)
    images_path = None
    if with_images:
        images_path = Path(images_out) if images_out else out.with_name(f"{out.stem}_images.zip")
    return _write_task(data, images, out, images_path)


def export_cvat_tasks(
    store_path: str | os.PathLike,
    video_ids: Sequence[str],
    frames_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    with_images: bool = True,
    layer: str = "curated",
    file_name_pattern: str | None = None,
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
) -> list[CvatExport]:
    """One CVAT task per video in ``out_dir``: ``<video>.zip`` and ``<video>_images.zip``, the
    video id percent-encoded as in the store (``a%2F1.zip``). Every video's frames are checked
    before any zip is written.

    One task per video, not one task for all: a CVAT task is one image sequence that its "COCO
    1.0" importer matches by file name, and its jobs split that sequence by frame count, so
    videos stay whole and separate, and each task's export imports on its own.
    """
    root = Path(frames_root)
    tasks = [
        (vid, *_task(store_path, vid, root, with_images, layer, file_name_pattern, frame_paths))
        for vid in dict.fromkeys(video_ids)
    ]
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    for vid, data, images in tasks:
        name = group_name(vid)
        images_path = folder / f"{name}_images.zip" if with_images else None
        done.append(_write_task(data, images, folder / f"{name}.zip", images_path))
    return done
