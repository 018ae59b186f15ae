"""COCO export of a store layer: one image per frame, one RLE annotation per object.

``file_name`` is the frame's path relative to the dataset's frames root (``names``), so
annotation tools such as CVAT can match it to their task images; each annotation carries its RLE
taken straight from the store (no decoding) and the custom ``attributes`` ``source``, ``score``
and ``object_id``. An athlete-free frame is an image without annotations (an empty mask is never
an annotation: CVAT's mask importer fails on one and COCOeval counts it as a false positive).
Image ids derive from (video, frame) alone (``image_id_of``), so every export of every store of a
dataset numbers a frame the same way.

``iscrowd`` is 0. The original COCO files pair RLE with ``iscrowd=1``, but that flag means "a
crowd region to ignore": pycocotools' COCOeval, detectron2 and mmdetection skip such objects,
which would drop every athlete. Readers do not need the flag to read RLE: pycocotools'
``annToRLE`` and datumaro's COCO importer (behind CVAT's "COCO 1.0") take any ``segmentation``
dict as a mask, whatever ``iscrowd`` says; YouTube-VIS ships RLE with ``iscrowd=0`` too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import __version__, rle
from hm_annotate.io.coco.names import (
    DEFAULT_FILE_NAME_PATTERN,
    PATTERN_METADATA_KEY,
    CocoError,
    FrameNames,
    video_patterns,
)
from hm_annotate.reporting import Reporter
from hm_annotate.store import LayerData, MaskStore

CATEGORY = {"id": 1, "name": "athlete", "supercategory": "person"}

def read_frame_list(path: str | os.PathLike) -> dict[str, list[int]]:
    """Frames named by a CSV with columns ``video_id`` and ``frame`` (e.g. the review queue)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"video_id", "frame"} - set(reader.fieldnames or ())
            if missing:
                raise CocoError(f"{path}: missing column(s) {sorted(missing)} (need video_id, frame)")
            out: dict[str, set[int]] = {}
            for row in reader:
                try:
                    frame = int(row["frame"])
                except (TypeError, ValueError):
                    raise CocoError(
                        f"{path}: line {reader.line_num}: frame {row['frame']!r} is not an integer"
                    ) from None
                out.setdefault(row["video_id"], set()).add(frame)
    except UnicodeDecodeError as exc:
        raise CocoError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    return {v: sorted(f) for v, f in out.items()}


def image_id_of(video_id: str, frame: int) -> int:
    """The COCO image id of a frame: the same in every export of every store, subset or not.

    1 + (the first 8 bytes of SHA-1 of ``"<video_id>/<frame>"``, big-endian) mod (2^53 - 1), so
    ids pair the same frames across exports (COCOeval matches results to images by id) and stay
    exact in JSON readers that hold numbers as doubles.
    """
    return stable_id(f"{video_id}/{int(frame)}")


def stable_id(key: str) -> int:
    """1 + (the first 8 bytes of SHA-1 of ``key``, big-endian) mod (2^53 - 1): an id that depends
    on the key alone and stays exact where JSON numbers are doubles."""
    return 1 + int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % (2**53 - 1)


def _score(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def export_coco(
    store_path: str | os.PathLike,
    layer: str = "curated",
    *,
    videos: Sequence[str] | None = None,
    frames: Mapping[str, Iterable[int]] | None = None,
    file_name_pattern: str | None = None,
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    """A COCO instances dict of a store layer (all videos, some videos, or listed frames).

    Images carry ``video_id`` and ``frame`` besides the COCO fields; annotations carry the RLE
    counts exactly as stored. ``frames`` maps video ids to frame numbers (each must be in the layer).
    ``file_name`` comes from ``frame_paths`` (a dataset's, see ``dataset_frame_paths``) where given,
    else from the file-name pattern.
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    taken: dict[int, tuple[str, int]] = {}
    with MaskStore.open(store_path) as st:
        ids = _select_videos(st, layer, videos, frames)
        names = FrameNames(video_patterns(st, ids, file_name_pattern), frame_paths)
        for video_id in (reporter or Reporter()).bar(ids, desc="export-coco", unit="video"):
            data = st.read(video_id, layer)
            positions = _positions(st, video_id, layer, data, None if frames is None else frames[video_id])
            source = _frame_sources(st, video_id, layer, data.frames)
            flat = [m for p in positions for m in data.masks[p]]
            areas = rle.area(flat).tolist()
            boxes = np.round(rle.bbox(flat), 2).tolist()
            k = 0
            for p in positions:
                frame = int(data.frames[p])
                image_id = image_id_of(video_id, frame)
                if image_id in taken:
                    raise CocoError(
                        f"video {video_id!r} frame {frame} and video {taken[image_id][0]!r} frame "
                        f"{taken[image_id][1]} hash to the same image id {image_id}; export them separately"
                    )
                taken[image_id] = (video_id, frame)
                images.append(
                    {
                        "id": image_id,
                        "file_name": names.name(video_id, frame),
                        "width": data.width,
                        "height": data.height,
                        "video_id": video_id,
                        "frame": frame,
                    }
                )
                score = _score(data.scores[p])
                for mask, object_id in zip(data.masks[p], data.object_ids[p]):
                    attributes: dict[str, Any] = {"source": source[p], "object_id": int(object_id)}
                    if score is not None:
                        attributes["score"] = score
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": image_id,
                            "category_id": CATEGORY["id"],
                            "segmentation": {"size": [data.height, data.width], "counts": mask["counts"]},
                            "area": areas[k],
                            "bbox": boxes[k],
                            "iscrowd": 0,
                            "attributes": attributes,
                        }
                    )
                    k += 1
    info = export_info(store_path, layer, file_name_pattern, frame_paths)
    return export_document(info, images=images, annotations=annotations)


def export_document(info: dict[str, Any], **entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The top level of a COCO-style file: ``info``, no licenses, the athlete category, then
    ``entries`` in the order given (COCO: images, annotations; YouTube-VIS: videos, annotations)."""
    return {"info": info, "licenses": [], "categories": [dict(CATEGORY)], **entries}


def export_info(
    store_path: str | os.PathLike,
    layer: str,
    file_name_pattern: str | None,
    frame_paths: Mapping[str, Mapping[int, str]] | None,
) -> dict[str, Any]:
    """The ``info`` of an export: what it holds, when and how its file names were made."""
    return {
        "description": f"hm-annotate {layer} masks of {Path(store_path).name}",
        "version": __version__,
        "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "contributor": "",
        "hm_annotate": {
            "store": str(Path(store_path).resolve()),
            "layer": layer,
            "file_names": "dataset frame paths"
            if frame_paths
            else file_name_pattern
            or f"per video metadata {PATTERN_METADATA_KEY!r}, else {DEFAULT_FILE_NAME_PATTERN}",
        },
    }


def coco_results(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A COCO results list (what ``COCO.loadRes`` reads) from an export: one entry per annotation.

    The score is the frame's segmenter score, 1.0 where the store has none (corrected masks).
    """
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "segmentation": a["segmentation"],
            "score": a["attributes"].get("score", 1.0),
            "attributes": a["attributes"],
        }
        for a in data["annotations"]
    ]


def _select_videos(
    st: MaskStore, layer: str, videos: Sequence[str] | None, frames: Mapping[str, Iterable[int]] | None
) -> list[str]:
    stored = set(st.videos())
    for v in list(videos or ()) + list(frames or ()):
        if v not in stored:
            raise CocoError(f"{st.path}: no video {v!r}")
    if videos is None:
        ids = [v for v in st.videos() if st.has(v, layer)]
    else:
        ids = list(dict.fromkeys(videos))
        for v in ids:
            if not st.has(v, layer):
                raise CocoError(f"{st.path}: video {v!r} has no {layer!r} masks")
    if frames is not None:
        for v in frames:
            if not st.has(v, layer):
                raise CocoError(f"{st.path}: video {v!r} has no {layer!r} masks")
        ids = [v for v in ids if v in frames]
    return ids


def _positions(
    st: MaskStore, video_id: str, layer: str, data: LayerData, wanted: Iterable[int] | None
) -> np.ndarray:
    if wanted is None:
        return np.arange(len(data))
    wanted = np.unique(np.fromiter((int(f) for f in wanted), np.int64))
    pos = np.searchsorted(data.frames, wanted)
    ok = (pos < len(data)) & (data.frames[np.minimum(pos, max(len(data) - 1, 0))] == wanted)
    if not ok.all():
        raise CocoError(f"{st.path}: video {video_id!r} has no frame {int(wanted[~ok][0])} in {layer!r}")
    return pos


def _frame_sources(st: MaskStore, video_id: str, layer: str, frame_numbers: np.ndarray) -> list[str]:
    """Which stored layer each frame of a view comes from (curated: corrected over pseudo)."""
    if layer != "curated":
        return [layer] * len(frame_numbers)
    corrected = st.area_bbox(video_id, "corrected")[0] if st.has(video_id, "corrected") else []
    return np.where(np.isin(frame_numbers, corrected), "corrected", "pseudo").tolist()


def write_coco(data: Mapping[str, Any] | list[dict[str, Any]], out: str | os.PathLike) -> Path:
    """Write a COCO dict (or results list) as compact JSON, atomically (a partial file never
    takes the name)."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)  # 2x faster than json.dump
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
