"""The review queue: frames most likely wrong first, each with the reasons, so people fix the worst first.

Evidence per frame, each turned into a badness in [0, 1]:

- ``empty``: no athlete on a frame (a tracker that lost the diver, or an athlete out of view);
- ``low score``: the segmenter's own confidence (stored score), 1 - score;
- ``IoU drop``: the best IoU with the previous or next frame, against the video's median IoU of
  consecutive frames: a mask that agrees with neither neighbour while the video is otherwise
  stable is a lone failure (stored ``quality["iou_prev"]`` is used when present, else computed on
  the RLEs);
- ``area jump``: the area against the median area of the two frames either side, on a log2 scale
  (from the stored area arrays);
- ``components``: an athlete's mask in several pieces (stored ``quality["components"]`` when
  present, else counted on decoded masks; the only signal that decodes, and it can be turned off);
- ``border``: the mask touching the image edge (stored ``quality["touches_border"]`` or the bbox);
- ``runaway``: pseudo-label's runaway guard cut the mask back to where the athlete's measured
  motion allows (stored ``quality["runaway"]``; see ``hm_annotate.pseudo.runaway``).

The priority is a weighted sum, so a frame failing several ways ranks above one failing one way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hm_annotate import rle
from hm_annotate.boxes import touches_border
from hm_annotate.reporting import Reporter
from hm_annotate.rle import consecutive_iou
from hm_annotate.store import LayerData, MaskStore, StoreError, check_layer, select_videos, unions

WEIGHTS = {
    "empty": 1.0, "low_score": 1.0, "iou_drop": 1.0, "area_jump": 0.8, "components": 0.6, "border": 0.3,
    "runaway": 1.0,
}  # fmt: skip
# a signal shows up in ``reasons`` from this badness on
REASON_FROM = 0.25
QUEUE_COLUMNS = [
    "video_id", "frame", "priority", "reasons", "score", "iou_prev", "iou_next", "iou_video_median",
    "area", "area_ratio", "components", "touches_border", "empty", "runaway",
]  # fmt: skip


def count_components(data: LayerData) -> np.ndarray:
    """Most connected pieces (8-connectivity) of any one object per frame; 0 for empty frames."""
    import cv2

    out = np.zeros(len(data), np.int64)
    for i, objs in enumerate(data.masks):
        if objs:
            masks = rle.decode_batch(objs)
            out[i] = max(cv2.connectedComponents(m, connectivity=8)[0] - 1 for m in masks)
    return out


def _neighbour_ious(data: LayerData) -> tuple[np.ndarray, np.ndarray]:
    """IoU of each frame with its previous and next stored frame (NaN where there is none)."""
    n = len(data)
    prev = np.full(n, np.nan)
    stored = data.quality.get("iou_prev")
    if stored is not None and n > 1 and np.isfinite(np.asarray(stored)[1:]).all():
        prev[1:] = np.asarray(stored, np.float64)[1:]
    elif n > 1:
        prev[1:] = consecutive_iou(unions(data), data.area)
    nxt = np.full(n, np.nan)
    nxt[:-1] = prev[1:]
    return prev, nxt


def _neighbour_area(area: np.ndarray, reach: int = 2) -> np.ndarray:
    """Median area of the non-empty frames within ``reach`` of each frame, the frame itself excluded.

    Two on each side keep one wrong neighbour from making its good neighbours look wrong too.
    """
    a = np.asarray(area, np.float64).copy()
    a[a == 0] = np.nan
    padded = np.pad(a, reach, constant_values=np.nan)
    n = len(a)
    shifts = [padded[reach + d : reach + d + n] for d in range(-reach, reach + 1) if d != 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: no neighbour, no evidence
        return np.nanmedian(np.stack(shifts), axis=0)


def frame_signals(video_id: str, data: LayerData, *, components: bool = True) -> pd.DataFrame:
    """The per-frame evidence of one video's layer (columns of :data:`QUEUE_COLUMNS` but priority)."""
    n = len(data)
    area = np.asarray(data.area, np.int64)
    empty = area == 0
    iou_prev, iou_next = _neighbour_ious(data)
    best = np.fmax(iou_prev, iou_next)
    ref = float(np.nanmedian(iou_prev[1:])) if n > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = area / _neighbour_area(area)
    if "touches_border" in data.quality:
        border = np.asarray(data.quality["touches_border"]) > 0
    else:
        border = touches_border(data.bbox, data.height, data.width, area=area)
    runaway = np.asarray(data.quality.get("runaway", np.zeros(n)), np.float64) > 0
    if "components" in data.quality:
        comps = np.asarray(data.quality["components"], np.float64)
    else:
        comps = count_components(data).astype(np.float64) if components else np.full(n, np.nan)
    return pd.DataFrame(
        {
            "video_id": video_id,
            "frame": data.frames,
            "score": np.asarray(data.scores, np.float64),
            "iou_prev": iou_prev,
            "iou_next": iou_next,
            "iou_best": best,
            "iou_video_median": ref,
            "area": area,
            "area_ratio": ratio,
            "components": comps,
            "touches_border": border & ~empty,
            "empty": empty,
            "runaway": runaway,
        }
    )


def badness(signals: pd.DataFrame) -> pd.DataFrame:
    """Each signal as a badness in [0, 1] (NaN evidence counts as no evidence)."""
    s = signals
    ref = s["iou_video_median"].to_numpy()
    best = s["iou_best"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.clip((ref - best) / np.maximum(ref, 1e-6), 0, 1)
        jump = np.clip(np.abs(np.log2(s["area_ratio"].to_numpy())) / 2.0, 0, 1)
    nonempty = ~s["empty"].to_numpy()
    return pd.DataFrame(
        {
            "empty": s["empty"].astype(float),
            "low_score": np.clip(1.0 - s["score"].to_numpy(), 0, 1),
            "iou_drop": np.where(nonempty, drop, 0.0),
            "area_jump": np.where(nonempty, jump, 0.0),
            "components": np.clip((s["components"].to_numpy() - 1) / 2.0, 0, 1),
            "border": s["touches_border"].astype(float),
            "runaway": s["runaway"].astype(float),
        },
        index=s.index,
    ).fillna(0.0)


def _texts(s: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each signal's reason text for every row (formatted column-wise)."""

    def fmt(col: str, spec: str) -> pd.Series:
        return s[col].map(lambda x: format(x, spec)).astype(object)

    return {
        "empty": np.full(len(s), "empty mask", dtype=object),
        "low_score": ("low score " + fmt("score", ".2f")).to_numpy(),
        "iou_drop": (
            "IoU " + fmt("iou_best", ".2f") + " with neighbours (video median "
            + fmt("iou_video_median", ".2f") + ")"
        ).to_numpy(),
        "area_jump": ("area x" + fmt("area_ratio", ".2f") + " of neighbours").to_numpy(),
        "components": (fmt("components", ".0f") + " connected components").to_numpy(),
        "border": np.full(len(s), "touches the image border", dtype=object),
        "runaway": np.full(len(s), "mask cut back to the athlete's motion", dtype=object),
    }


def rank(signals: pd.DataFrame, top: int | None = None) -> pd.DataFrame:
    """Add ``priority`` and ``reasons`` and sort, worst first (ties: video, frame)."""
    weighted = badness(signals) * pd.Series(WEIGHTS)
    out = signals.assign(priority=weighted.sum(axis=1).round(4))
    out = out.sort_values(["priority", "video_id", "frame"], ascending=[False, True, True], kind="stable")
    if top is not None:
        out = out.head(top)
    w = weighted.loc[out.index]
    texts = _texts(out)
    names = list(w.columns)
    values = w.to_numpy()
    order = np.argsort(-values, axis=1, kind="stable")
    shown = values >= REASON_FROM * np.array([WEIGHTS[k] for k in names])
    out["reasons"] = [
        "; ".join(texts[names[j]][i] for j in order[i] if shown[i, j]) for i in range(len(out))
    ]
    return out[QUEUE_COLUMNS].reset_index(drop=True)


def review_queue(
    store_path: str | os.PathLike,
    layer: str = "pseudo",
    *,
    top: int | None = None,
    videos: Sequence[str] | None = None,
    components: bool = True,
    skip_corrected: bool = True,
    reporter: Reporter | None = None,
) -> pd.DataFrame:
    """Rank the frames of a layer, worst first; ``top`` keeps the N worst.

    With ``skip_corrected`` (the default), frames that already have a corrected mask are left
    out when reviewing the pseudo layer: nobody needs to look at them again.
    """
    check_layer(layer)
    reporter = reporter or Reporter()
    if top is not None and top < 1:
        raise StoreError(f"top must be at least 1, got {top}")
    parts = []
    with MaskStore.open(store_path) as st:
        ids = select_videos(st, layer, videos=videos)
        for vid in reporter.bar(ids, desc="review", unit="video"):
            data = st.read(vid, layer)
            sig = frame_signals(vid, data, components=components)
            if skip_corrected and layer == "pseudo" and st.has(vid, "corrected"):
                done = st.area_bbox(vid, "corrected")[0]
                sig = sig[~np.isin(sig["frame"].to_numpy(), done)]
            parts.append(sig)
    return rank(pd.concat(parts, ignore_index=True), top)


def write_queue(queue: pd.DataFrame, out: str | os.PathLike) -> None:
    """Write the queue as CSV (``video_id,frame,priority,reasons,...``), atomically."""
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    queue.to_csv(tmp, index=False, float_format="%.4g")
    os.replace(tmp, out)
