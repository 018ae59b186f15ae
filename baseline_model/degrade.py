"""Pseudo-mask stand-ins: ground-truth masks degraded the way automatic masks go wrong.

When a dataset has ground-truth masks but no pseudo-label run yet (or one too slow to make on the
machine at hand), the GTM-vs-PM comparison can use PM made from GTM. Per video, frame by frame:
boundaries grow or shrink (dilation / erosion by up to ``max_radius`` pixels, as a segmenter
bleeds into the background or misses limbs), the mask drifts (a random walk of up to
``max_shift`` pixels, as a lagging tracker's box), and some frames lose the athlete (about
``drop`` of them, in runs of ``drop_run`` frames, as when a tracker loses its target). It is a
stand-in, not a model of any particular segmenter; the store's provenance says so. Deterministic
per seed and video.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hm_annotate import rle


@dataclass(frozen=True)
class Degradation:
    """How far the stand-in pseudo masks stray from the ground truth."""

    max_radius: int = 2
    max_shift: int = 2
    drop: float = 0.1
    drop_run: int = 5
    seed: int = 0


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels, zeros where it moved away from (no wrap-around)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = mask[max(-dy, 0):h - max(dy, 0),
                                                                     max(-dx, 0):w - max(dx, 0)]
    return out


def degrade_masks(masks: np.ndarray, deg: Degradation, rng: np.random.Generator) -> np.ndarray:
    """F x H x W {0,1} masks -> degraded copies (same shape, uint8)."""
    import cv2

    n = len(masks)
    radius = rng.integers(-deg.max_radius, deg.max_radius + 1, n)
    walk = np.clip(np.cumsum(rng.normal(0, 1, (n, 2)), 0), -deg.max_shift, deg.max_shift).round().astype(int)
    dropped = np.zeros(n, bool)
    for start in rng.integers(0, max(n, 1), int(np.ceil(deg.drop * n / max(deg.drop_run, 1)))):
        dropped[start:start + deg.drop_run] = True
    out = np.zeros_like(masks, dtype=np.uint8)
    for i in np.flatnonzero(~dropped):
        m = masks[i].astype(np.uint8)
        r = int(radius[i])
        if r:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(r) + 1, 2 * abs(r) + 1))
            m = cv2.dilate(m, kernel) if r > 0 else cv2.erode(m, kernel)
        out[i] = _shift(m, int(walk[i, 0]), int(walk[i, 1]))
    return out


def degrade_store(src: str | Path, dst: str | Path, deg: Degradation, *, src_layer: str = "corrected",
                  dst_layer: str = "pseudo", videos: Sequence[str] | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """Write degraded copies of ``src``'s masks into ``dst`` (layer ``dst_layer``).

    Returns the number of videos and frames, the mean per-frame IoU against the source and the
    frames whose athlete was dropped, so a report can state how good the stand-in is.
    """
    from tqdm import tqdm

    from hm_annotate.store import LayerData, MaskStore

    ious: list[np.ndarray] = []
    lost = 0
    with MaskStore.open(src) as source, MaskStore.open(dst, mode="a") as target:
        ids = list(videos) if videos is not None else [v for v in source.videos() if source.has(v, src_layer)]
        for video_id in tqdm(ids, desc="degrade masks", unit="video", disable=None if progress else True):
            frames, masks = source.masks(video_id, src_layer)
            rng = np.random.default_rng([deg.seed, zlib.crc32(video_id.encode())])
            bad = degrade_masks(masks, deg, rng)
            inter = (bad & masks).sum((1, 2))
            union = (bad | masks).sum((1, 2))
            ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
            lost += int(((bad.sum((1, 2)) == 0) & (masks.sum((1, 2)) > 0)).sum())
            encoded = rle.encode_batch(bad)
            objects = [[r] if bad[i].any() else [] for i, r in enumerate(encoded)]
            h, w = masks.shape[1:]
            provenance = [{"tool": "hm-baseline degrade-masks", "stand_in_for": "pseudo masks",
                           "source": f"{src}:{src_layer}", **asdict(deg)}]
            target.put(video_id, dst_layer, LayerData(frames=frames, masks=objects, height=h, width=w,
                                                      provenance=provenance),
                       metadata=source.metadata(video_id))
    all_iou = np.concatenate(ious) if ious else np.zeros(0)
    return {"videos": len(ious), "frames": len(all_iou),
            "mean_iou": float(all_iou.mean()) if len(all_iou) else float("nan"), "lost_frames": lost}
