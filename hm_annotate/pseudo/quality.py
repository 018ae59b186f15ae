"""Per-frame quality flags of pseudo masks, so reviewers can go straight to the doubtful frames.

All flags describe the frame's human-centric foreground (the union of its objects) and are
computed from the RLEs without decoding: ``iou_prev`` (IoU with the previous frame, NaN on the
first), ``area_jump`` (relative change of area from the previous frame, 0..1), ``empty`` and
``touches_border`` (0/1). The segmenter's own score is stored beside them as the layer's scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hm_annotate import rle
from hm_annotate.rle import RLE


def frame_flags(unions: Sequence[RLE], height: int, width: int) -> dict[str, np.ndarray]:
    """Quality arrays (float32, one value per frame) for a video's union masks in frame order."""
    n = len(unions)
    area = rle.area(unions).astype(np.float64)
    x, y, w, h = rle.bbox(unions).T if n else np.zeros((4, 0))
    iou_prev = np.full(n, np.nan)
    iou_prev[1:] = rle.consecutive_iou(unions, area.astype(np.int64))
    jump = np.zeros(n)
    if n > 1:
        prev, cur = area[:-1], area[1:]
        jump[1:] = np.abs(cur - prev) / np.maximum(np.maximum(cur, prev), 1.0)
    empty = area == 0
    touches = ~empty & ((x <= 0) | (y <= 0) | (x + w >= width) | (y + h >= height))
    return {
        "iou_prev": iou_prev.astype(np.float32),
        "area_jump": jump.astype(np.float32),
        "empty": empty.astype(np.float32),
        "touches_border": touches.astype(np.float32),
    }


def flagged(quality: dict[str, np.ndarray], min_iou: float = 0.5, *, max_jump: float = 0.5) -> np.ndarray:
    """Frames worth a look: empty, or a big change from the previous frame (bool per frame)."""
    iou_prev = np.nan_to_num(quality["iou_prev"], nan=1.0)
    return (quality["empty"] > 0) | (iou_prev < min_iou) | (quality["area_jump"] > max_jump)
