"""Read a mask store into two tables, one row per frame and one per video, without decoding masks.

Everything the statistics report is a reduction of these tables: areas, boxes and object counts
come from the store's per-frame arrays; consecutive-frame and pseudo-vs-corrected IoUs from RLE
intersections (pycocotools on the runs), the only reason to read RLEs at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hm_annotate.reporting import Reporter
from hm_annotate.rle import consecutive_iou, pair_iou
from hm_annotate.store import LayerData, MaskStore, StoreError, check_layer, curated_view, unions

GROUPS = ("action_type", "event", "split", "athletes")
INDIVIDUAL, SYNCHRONISED = "individual", "synchronised"


@dataclass
class StatsTables:
    """Per-frame rows (``frames``), per-video rows (``videos``) and pseudo-vs-corrected IoUs.

    ``frames``: video_id, frame, area, x, y, w, h, objects, iou_prev (IoU with the previous
    frame; NaN on a video's first frame, after an empty frame when this one is empty too, or when
    temporal IoU was not computed). ``videos``: video_id, height, width, the group
    columns, total_frames (the coverage denominator), masks, empty, corrected_frames.
    ``agreement``: video_id, frame, iou for frames having both a pseudo and a corrected mask.
    """

    store: str
    layer: str
    frames: pd.DataFrame
    videos: pd.DataFrame
    agreement: pd.DataFrame
    temporal: bool
    frames_source: str


def athletes_label(meta: Mapping[str, Any], video_id: str, max_objects: int) -> str:
    """Individual or synchronised: from ``athletes``, else the event name, else the object count.

    FineDiving event folders of synchronised events carry "Synchronised" in their name; a layer
    holding two objects on some frame is a pair even without metadata.
    """
    n = meta.get("athletes")
    if isinstance(n, (int, float)) and not isinstance(n, bool) and n > 0:
        return SYNCHRONISED if n >= 2 else INDIVIDUAL
    name = f"{meta.get('event', '')} {video_id}".lower()
    if "synchro" in name or "sync_" in name or "sync." in name:
        return SYNCHRONISED
    return SYNCHRONISED if max_objects >= 2 else INDIVIDUAL


def _group_value(meta: Mapping[str, Any], video_id: str, key: str) -> str:
    value = meta.get(key)
    if key == "event" and value in (None, "") and "/" in video_id:
        value = video_id.rsplit("/", 1)[0]
    return "unknown" if value in (None, "") else str(value)


def _as_info(videos_info: Iterable[Any] | Mapping[str, Any] | None) -> dict[str, Any]:
    if videos_info is None:
        return {}
    if isinstance(videos_info, Mapping):
        return dict(videos_info)
    return {v.id: v for v in videos_info}


@dataclass
class _VideoArrays:
    """What the tables need of one video: its view's per-frame arrays and its layers' frames."""

    size: tuple[int, int]
    layer_frames: dict[str, np.ndarray]
    frames: np.ndarray | None = None  # None: the video lacks the layer asked for
    area: np.ndarray | None = None
    bbox: np.ndarray | None = None
    objects: np.ndarray | None = None
    iou_prev: np.ndarray | None = None
    agreement: tuple[np.ndarray, np.ndarray] | None = None


def _read_video(st: MaskStore, vid: str, layer: str, temporal: bool) -> _VideoArrays:
    """Read one video, touching RLEs only where an IoU needs them.

    Temporal IoUs need the view's RLEs and pseudo-vs-corrected agreement needs both layers'; a
    video needing neither is read from its area, bbox and object-count arrays alone.
    """
    stored_layers = st.layers(vid)
    if not temporal and len(stored_layers) < 2:
        frames = {k: st.area_bbox(vid, k) for k in stored_layers}
        out = _VideoArrays(st.size(vid) if stored_layers else (0, 0), {k: f[0] for k, f in frames.items()})
        name = stored_layers[0] if layer == "curated" and stored_layers else layer
        if name in frames:
            out.frames, out.area, out.bbox = frames[name]
            out.objects = st.object_counts(vid, name)[1]
            out.iou_prev = np.full(len(out.frames), np.nan)
        return out
    stored = {k: st.read(vid, k) for k in stored_layers}
    data = curated_view(stored, layer)
    any_layer = data if data is not None else next(iter(stored.values()), None)
    size = (any_layer.height, any_layer.width) if any_layer is not None else (0, 0)
    out = _VideoArrays(size, {k: d.frames for k, d in stored.items()})
    if data is not None:
        n = len(data)
        out.frames, out.area, out.bbox = data.frames, data.area, data.bbox
        out.objects = np.fromiter((len(m) for m in data.masks), np.int64, n)
        out.iou_prev = np.full(n, np.nan)
        if temporal and n > 1:
            out.iou_prev[1:] = consecutive_iou(unions(data), data.area)
            # two empty frames in a row (an athlete under water) say nothing about flicker
            empty = np.asarray(data.area) == 0
            out.iou_prev[1:][empty[1:] & empty[:-1]] = np.nan
    if len(stored) == 2:
        out.agreement = _agreement(stored["pseudo"], stored["corrected"])
    return out


def collect_tables(
    store_path: str | os.PathLike,
    layer: str = "curated",
    *,
    videos_info: Iterable[Any] | Mapping[str, Any] | None = None,
    temporal: bool = True,
    reporter: Reporter | None = None,
) -> StatsTables:
    """Build the per-frame and per-video tables of one layer of a store.

    ``videos_info`` (Video records of the dataset, a list or a dict by id) fixes each video's
    frame count for coverage and fills metadata the store lacks; dataset videos absent from the
    store count with no masks. Without it a video's frames are the union of its layers' frames.
    """
    check_layer(layer)
    reporter = reporter or Reporter()
    info = _as_info(videos_info)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("frame", "area", "bbox", "objects", "iou_prev")}
    agree: dict[str, list[np.ndarray]] = {"frame": [], "iou": []}
    frame_owner: list[str] = []
    agree_owner: list[str] = []
    video_rows: list[dict[str, Any]] = []
    with MaskStore.open(store_path) as st:
        ids = st.videos()
        if not ids and not info:
            raise StoreError(f"{store_path}: the store holds no videos")
        if not any(st.has(v, layer) for v in ids):
            raise StoreError(f"{store_path}: no video has a {layer!r} layer")
        all_ids = ids + sorted(set(info) - set(ids))
        for vid in reporter.bar(all_ids, desc="stats", unit="video"):
            meta = dict(info[vid].metadata) if vid in info else {}
            if vid in st:
                meta.update(st.metadata(vid))
                v = _read_video(st, vid, layer, temporal)
            else:
                v = _VideoArrays((0, 0), {})
            n = 0 if v.frames is None else len(v.frames)
            if vid in info:
                total = len(info[vid].frame_numbers)
            else:
                total = len(np.unique(np.concatenate(list(v.layer_frames.values())))) if v.layer_frames else 0
            if n:
                for key in cols:
                    cols[key].append(np.asarray(getattr(v, key if key != "frame" else "frames")))
                frame_owner.append(vid)
            if v.agreement is not None:
                agree["frame"].append(v.agreement[0])
                agree["iou"].append(v.agreement[1])
                agree_owner.append(vid)
            row = {
                "video_id": vid,
                "height": v.size[0],
                "width": v.size[1],
                "total_frames": total,
                "masks": n,
                "objects": int(v.objects.sum()) if n else 0,
                "empty": int((np.asarray(v.area) == 0).sum()) if n else 0,
                "corrected_frames": len(v.layer_frames.get("corrected", ())),
            }
            for key in GROUPS[:-1]:
                row[key] = _group_value(meta, vid, key)
            row["athletes"] = athletes_label(meta, vid, int(v.objects.max()) if n else 0)
            video_rows.append(row)
    bbox = _cat(cols.pop("bbox"), np.float64).reshape(-1, 4)
    frames = pd.DataFrame({
        "video_id": _owners(frame_owner, cols["frame"]),
        "frame": _cat(cols["frame"], np.int64),
        "area": _cat(cols["area"], np.int64),
        "x": bbox[:, 0], "y": bbox[:, 1], "w": bbox[:, 2], "h": bbox[:, 3],
        "objects": _cat(cols["objects"], np.int64),
        "iou_prev": _cat(cols["iou_prev"], np.float64),
    })  # fmt: skip
    agreement = pd.DataFrame({
        "video_id": _owners(agree_owner, agree["frame"]),
        "frame": _cat(agree["frame"], np.int64),
        "iou": _cat(agree["iou"], np.float64),
    })  # fmt: skip
    return StatsTables(
        str(store_path), layer, frames, pd.DataFrame(video_rows), agreement, temporal,
        "dataset" if info else "store layers",
    )


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _owners(ids: list[str], parts: list[np.ndarray]) -> np.ndarray:
    """The video id of every row, from per-video blocks."""
    return np.repeat(np.array(ids, dtype=object), [len(p) for p in parts]) if ids else np.zeros(0, object)


def _agreement(pseudo: LayerData, corrected: LayerData) -> tuple[np.ndarray, np.ndarray]:
    """Frames both layers hold and the IoU of their pseudo and corrected masks."""
    common, ip, ic = np.intersect1d(pseudo.frames, corrected.frames, return_indices=True)
    up, uc = unions(pseudo), unions(corrected)
    ious = pair_iou(
        [up[i] for i in ip],
        [uc[i] for i in ic],
        area_a=np.asarray(pseudo.area)[ip],
        area_b=np.asarray(corrected.area)[ic],
    )
    return common, ious
