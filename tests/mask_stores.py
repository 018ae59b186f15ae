"""Stores with known geometry for the stats, review, render and boxes tests: ellipses with given centre,
radii and speed, several athletes per frame, metadata (tests/masks.py has single drifting ellipses)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore

H, W = 48, 80


def ellipses(n: int, cx0: float = 20.0, cy: float = 24.0, rx: float = 6.0, ry: float = 10.0, dx: float = 1.0,
             h: int = H, w: int = W) -> np.ndarray:
    """n x h x w uint8 masks of an ellipse moving right by dx pixels a frame."""
    yy, xx = np.mgrid[:h, :w]
    cx = cx0 + dx * np.arange(n)[:, None, None]
    return (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)


def layer(frames: Sequence[int], *objects: np.ndarray, scores: Sequence[float] | None = None,
          quality: dict[str, np.ndarray] | None = None) -> LayerData:
    """A layer with one object per mask stack given (F x H x W each); all-zero objects are dropped."""
    per_object = [rle.encode_batch(o) for o in objects]
    masks = [[rles[i] for o, rles in zip(objects, per_object) if o[i].any()] for i in range(len(frames))]
    h, w = objects[0].shape[1:]
    return LayerData(
        frames=np.asarray(frames, np.int64),
        masks=masks,
        height=h,
        width=w,
        scores=None if scores is None else np.asarray(scores, np.float32),
        quality=quality or {},
    )


def write_store(path: Path, videos: dict[str, dict]) -> Path:
    """videos: id -> {"meta": dict, "pseudo": LayerData, "corrected": LayerData} (layers optional)."""
    with MaskStore.open(path, mode="a") as st, st.transaction():
        for vid, spec in videos.items():
            st.set_metadata(vid, spec.get("meta", {}))
            for name in ("pseudo", "corrected"):
                if name in spec:
                    st.put(vid, name, spec[name])
    return path
