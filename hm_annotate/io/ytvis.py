"""YouTube-VIS (2019/2021 layout): one annotation per athlete per video, for video instance
segmentation code (YouTube-VIS and OVIS tools, detectron2/mmdetection VIS loaders).

Export writes ``videos`` (``id``, ``width``, ``height``, ``length``, ``file_names`` of the layer's
frames in order, plus ``name``: the store's video id, and ``frames``: the frame numbers) and one
annotation per object id of a video with per-frame lists aligned with ``file_names``:
``segmentations`` (compressed RLE exactly as stored, ``null`` where the athlete is absent),
``areas`` and ``bboxes`` (``null`` there too), and ``object_id``. An athlete-free frame is a frame
of ``file_names`` where every annotation is ``null``. Video ids derive from the video id alone
(``video_id_of``), so every export of a dataset numbers a video the same way.

Import turns the file into the frames and objects of a COCO import (``as_coco``) and goes through
the same checks, identity matching (an annotation without ``object_id`` is matched per frame by
IoU), summary and all-or-nothing write (``hm_annotate.io.coco.import_parsed``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hm_annotate import rle
from hm_annotate.io.coco import (
    CATEGORY,
    CocoError,
    FrameNames,
    ImportSummary,
    export_document,
    export_info,
    import_parsed,
    load_coco,
    stable_id,
    video_patterns,
)
from hm_annotate.store import MaskStore


def video_id_of(video_id: str) -> int:
    """The YouTube-VIS video id of a store video: 1 + (first 8 bytes of SHA-1 of the id) mod
    (2^53 - 1), the same in every export."""
    return stable_id(video_id)


def export_ytvis(
    store_path: str | os.PathLike,
    layer: str = "curated",
    *,
    videos: Sequence[str] | None = None,
    file_name_pattern: str | None = None,
    frame_paths: Mapping[str, Mapping[int, str]] | None = None,
) -> dict[str, Any]:
    """A YouTube-VIS dict of a store layer (all videos, or the given ones)."""
    out_videos: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    with MaskStore.open(store_path) as st:
        ids = videos if videos is not None else [v for v in st.videos() if st.has(v, layer)]
        for v in ids:
            if not st.has(v, layer):
                raise CocoError(f"{st.path}: video {v!r} has no {layer!r} masks")
        names = FrameNames(video_patterns(st, ids, file_name_pattern), frame_paths)
        for vid in dict.fromkeys(ids):
            data = st.read(vid, layer)
            number = video_id_of(vid)
            out_videos.append(
                {
                    "id": number,
                    "name": vid,
                    "width": data.width,
                    "height": data.height,
                    "length": len(data),
                    "file_names": [names.name(vid, int(f)) for f in data.frames],
                    "frames": data.frames.tolist(),
                }
            )
            for oid in sorted({i for ids_ in data.object_ids for i in ids_}):
                per_frame = [dict(zip(i, objs)).get(oid) for i, objs in zip(data.object_ids, data.masks)]
                present = [m for m in per_frame if m is not None]
                areas = iter(rle.area(present).tolist())
                boxes = iter(np.round(rle.bbox(present), 2).tolist())
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "video_id": number,
                        "category_id": CATEGORY["id"],
                        "iscrowd": 0,
                        "object_id": oid,
                        "height": data.height,
                        "width": data.width,
                        "length": 1,
                        "segmentations": [None if m is None else dict(m) for m in per_frame],
                        "areas": [None if m is None else next(areas) for m in per_frame],
                        "bboxes": [None if m is None else next(boxes) for m in per_frame],
                    }
                )
    info = export_info(store_path, layer, file_name_pattern, frame_paths)
    return export_document(info, videos=out_videos, annotations=annotations)


def _video_entries(data: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    videos = data.get("videos")
    if not isinstance(videos, list) or not all(isinstance(v, dict) for v in videos):
        raise CocoError(f"{source}: 'videos' must be a list of objects (is this a YouTube-VIS file?)")
    seen: set[int] = set()
    for k, v in enumerate(videos):
        names = v.get("file_names")
        if not isinstance(v.get("id"), int) or v["id"] in seen:
            raise CocoError(f"{source}: videos[{k}]: id {v.get('id')!r} missing, not an integer or repeated")
        seen.add(v["id"])
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise CocoError(f"{source}: video {v['id']}: 'file_names' must be a non-empty list of strings")
        frames = v.get("frames")
        if frames is not None and (not isinstance(frames, list) or len(frames) != len(names)):
            raise CocoError(f"{source}: video {v['id']}: 'frames' must list one frame number per file name")
    return videos


def as_coco(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The COCO dict of a YouTube-VIS dict: one image per file name, one annotation per object and
    frame where its segmentation is not null (``object_id`` as an attribute)."""
    images: list[dict[str, Any]] = []
    image_of: dict[tuple[int, int], int] = {}
    lengths: dict[int, int] = {}
    for v in _video_entries(data, source):
        lengths[v["id"]] = len(v["file_names"])
        for k, name in enumerate(v["file_names"]):
            image = {"id": len(images) + 1, "file_name": name}
            image |= {"height": v.get("height"), "width": v.get("width")}
            if isinstance(v.get("name"), str) and v.get("frames") is not None:
                image |= {"video_id": v["name"], "frame": v["frames"][k]}
            image_of[v["id"], k] = image["id"]
            images.append(image)
    annotations = []
    entries = data.get("annotations", [])
    if not isinstance(entries, list) or not all(isinstance(a, dict) for a in entries):
        raise CocoError(f"{source}: 'annotations' must be a list of objects")
    for a in entries:
        segs = a.get("segmentations")
        if a.get("video_id") not in lengths:
            raise CocoError(
                f"{source}: annotation {a.get('id')!r} refers to unknown video_id {a.get('video_id')!r}"
            )
        if not isinstance(segs, list) or len(segs) != lengths[a["video_id"]]:
            raise CocoError(
                f"{source}: annotation {a.get('id')!r}: 'segmentations' must hold one entry per file name "
                f"of video {a['video_id']} ({lengths[a['video_id']]})"
            )
        attributes = {"object_id": a["object_id"]} if a.get("object_id") is not None else {}
        for k, seg in enumerate(segs):
            if seg is not None:
                annotations.append(
                    {
                        "id": a.get("id"),
                        "image_id": image_of[a["video_id"], k],
                        "category_id": a.get("category_id"),
                        "segmentation": seg,
                        "attributes": attributes,
                    }
                )
    return {"info": data.get("info"), "categories": data.get("categories"), "images": images,
            "annotations": annotations}


def import_ytvis(path: str | os.PathLike, store_path: str | os.PathLike, **options: Any) -> ImportSummary:
    """Import a YouTube-VIS file into a store layer, all or nothing; ``options`` as
    ``hm_annotate.io.coco.import_parsed``."""
    data = as_coco(load_coco(path), str(path))
    tool, params = "hm-annotate import-ytvis", {"format": "youtube-vis"}
    return import_parsed(data, path, store_path, tool=tool, parameters=params, **options)
