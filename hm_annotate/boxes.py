"""Per-frame actor boxes from a mask store, for AQA methods that crop the actor with a box.

Methods such as FSPN and TSA-Net feed a detector's actor-centric crop to the backbone instead of a
mask. The union of the athletes' masks gives that box exactly; reading it from the store's bbox
arrays needs no decoding. Frames annotated as empty get a box interpolated from their neighbours
(flagged ``empty``) so a consumer always has a crop, and an optional centred moving median or mean
over time removes the jitter a crop would otherwise show.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter

SMOOTH_METHODS = ("median", "mean")


@dataclass(frozen=True)
class VideoBoxes:
    """One video's actor boxes: ``boxes`` is F x 4 float64 ``[x0, y0, x1, y1]`` in pixels."""

    video_id: str
    frames: np.ndarray
    boxes: np.ndarray
    empty: np.ndarray
    height: int
    width: int


def xywh_to_xyxy(bbox: np.ndarray) -> np.ndarray:
    """COCO ``[x, y, w, h]`` boxes to corner boxes ``[x0, y0, x1, y1]`` (float64)."""
    b = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def touches_border(
    bbox: np.ndarray, height: int, width: int, *, area: np.ndarray | None = None
) -> np.ndarray:
    """Whether each xywh box reaches an image edge (a clipped athlete or a mask leaking out)."""
    b = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    hit = (b[:, 0] <= 0) | (b[:, 1] <= 0) | (b[:, 0] + b[:, 2] >= width) | (b[:, 1] + b[:, 3] >= height)
    if area is not None:
        hit &= np.asarray(area) > 0
    return hit


def fill_empty(boxes: np.ndarray, empty: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Replace the boxes of empty frames by linear interpolation between the nearest non-empty ones.

    Before the first and after the last non-empty frame the nearest box is held; a video with no
    non-empty frame gets the whole image, the only crop that loses nothing.
    """
    out = np.asarray(boxes, dtype=np.float64).copy()
    empty = np.asarray(empty, dtype=bool)
    if not empty.any():
        return out
    keep = np.flatnonzero(~empty)
    if keep.size == 0:
        h, w = int(size[0]), int(size[1])
        out[:] = (0.0, 0.0, float(w), float(h))
        return out
    gaps = np.flatnonzero(empty)
    for c in range(4):
        out[gaps, c] = np.interp(gaps, keep, out[keep, c])
    return out


def smooth(boxes: np.ndarray, k: int, *, method: str = "median") -> np.ndarray:
    """Centred moving median or mean of each coordinate over ``k`` frames.

    The window shrinks at the ends of the video (no padding with invented boxes), so a box at
    the first frame is the statistic of the first ``k // 2 + 1`` frames.
    """
    if method not in SMOOTH_METHODS:
        raise HMError(f"unknown smoothing method {method!r}; use one of {', '.join(SMOOTH_METHODS)}")
    if k < 1:
        raise HMError(f"smoothing window must be at least 1 frame, got {k}")
    b = np.asarray(boxes, dtype=np.float64)
    if k == 1 or len(b) <= 1:
        return b.copy()
    before, after = (k - 1) // 2, k // 2
    padded = np.pad(b, ((before, after), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=0)  # F x 4 x k
    return np.nanmedian(windows, axis=2) if method == "median" else np.nanmean(windows, axis=2)


def parse_pad(pad: str | float) -> tuple[float, bool]:
    """``"8"`` -> 8 pixels; ``"10%"`` -> 10 % of the box's width/height on each side."""
    text = str(pad).strip()
    relative = text.endswith("%")
    try:
        value = float(text[:-1] if relative else text)
    except ValueError as exc:
        raise HMError(f"padding must be pixels (e.g. 8) or a percentage (e.g. 10%), got {pad!r}") from exc
    if value < 0 or not np.isfinite(value):
        raise HMError(f"padding must be a non-negative number, got {pad!r}")
    return (value / 100.0 if relative else value), relative


def pad_boxes(boxes: np.ndarray, pad: str | float, size: Sequence[int]) -> np.ndarray:
    """Grow boxes by a margin on every side and clip them to the image."""
    value, relative = parse_pad(pad)
    b = np.asarray(boxes, dtype=np.float64).copy()
    if relative:
        margin = np.stack([b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1) * value
        margin = np.concatenate([margin, margin], axis=1)
    else:
        margin = np.full_like(b, value)
    b[:, :2] -= margin[:, :2]
    b[:, 2:] += margin[:, 2:]
    h, w = float(size[0]), float(size[1])
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0.0, w)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0.0, h)
    return b


def video_boxes(
    video_id: str,
    frames: np.ndarray,
    area: np.ndarray,
    bbox: np.ndarray,
    size: Sequence[int],
    *,
    k: int = 1,
    method: str = "median",
    pad: str | float = 0,
) -> VideoBoxes:
    """Actor boxes of one video from its stored per-frame areas and xywh bboxes."""
    empty = np.asarray(area) == 0
    boxes = fill_empty(xywh_to_xyxy(bbox), empty, size)
    boxes = smooth(boxes, k, method=method)
    boxes = pad_boxes(boxes, pad, size)
    return VideoBoxes(video_id, np.asarray(frames, np.int64), boxes, empty, int(size[0]), int(size[1]))


def iter_store_boxes(
    store_path: str | os.PathLike,
    layer: str = "curated",
    *,
    k: int = 1,
    method: str = "median",
    pad: str | float = 0,
    videos: Sequence[str] | None = None,
    reporter: Reporter | None = None,
) -> Iterator[VideoBoxes]:
    """Actor boxes of every video (or the given ones) that has ``layer``, read without decoding."""
    from hm_annotate.store import MaskStore, check_layer, select_videos

    check_layer(layer)
    reporter = reporter or Reporter()
    smooth(np.zeros((1, 4)), k, method=method)  # reject a bad window or method before reading anything
    parse_pad(pad)
    with MaskStore.open(store_path) as st:
        ids = select_videos(st, layer, videos=videos)
        for vid in reporter.bar(ids, desc="boxes", unit="video"):
            frames, area, bbox = st.area_bbox(vid, layer)
            yield video_boxes(vid, frames, area, bbox, st.size(vid), k=k, method=method, pad=pad)


def write_csv(items: Iterable[VideoBoxes], out: str | os.PathLike) -> int:
    """Write ``video_id,frame,x0,y0,x1,y1,empty`` rows; returns the number of rows."""
    import csv

    n = 0
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["video_id", "frame", "x0", "y0", "x1", "y1", "empty"])
            for vb in items:
                rounded = np.round(vb.boxes, 2)
                for fr, box, e in zip(vb.frames.tolist(), rounded.tolist(), vb.empty.tolist(), strict=True):
                    w.writerow([vb.video_id, fr, *box, int(e)])
                n += len(vb.frames)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_json(
    items: Iterable[VideoBoxes], out: str | os.PathLike, layer: str, k: int, method: str, pad: str | float
) -> int:
    """Write one JSON document, per video: size, frames, boxes ``[x0, y0, x1, y1]``, empty flags."""
    n = 0
    doc: dict = {
        "format": "hm-annotate-boxes", "layer": layer, "smooth": k, "smooth_method": method, "pad": str(pad),
        "box": "x0, y0, x1, y1 in pixels (x1, y1 exclusive)", "videos": {},
    }  # fmt: skip
    for vb in items:
        doc["videos"][vb.video_id] = {
            "size": [vb.height, vb.width],
            "frames": vb.frames.tolist(),
            "boxes": np.round(vb.boxes, 2).tolist(),
            "empty": vb.empty.astype(int).tolist(),
        }
        n += len(vb.frames)
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, out)
    return n
