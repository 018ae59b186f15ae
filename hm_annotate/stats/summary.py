"""Reduce the stats tables to one JSON-able report (the numbers of the paper's Sec. 4.1 and more).

A *mask* is one annotated frame (FineDiving-HM's convention: one human-centric foreground per
frame, a synchronised pair in one mask); *objects* count the athletes' masks within frames.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from hm_annotate.errors import HMError
from hm_annotate.reporting import Reporter
from hm_annotate.stats.collect import GROUPS, INDIVIDUAL, SYNCHRONISED, StatsTables, collect_tables
from hm_annotate.stats.measures import distribution, robust_z

OUTLIER_Z = 5.0


def _ratio(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _float(x: Any) -> float | None:
    return None if pd.isna(x) else float(x)


def _mean(values: pd.Series | np.ndarray) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def _group_table(t: StatsTables, by: str) -> pd.DataFrame:
    """Per group: videos, frames, masks, empty, individual/synchronised masks, mean area, IoU."""
    v = t.videos
    f = t.frames.merge(v[["video_id", by, "height", "width"]], on="video_id", how="left")
    f["area_fraction"] = f["area"] / (f["height"] * f["width"])
    g = v.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "videos": g.size(),
            "videos_with_masks": g["masks"].apply(lambda s: int((s > 0).sum())),
            "frames": g["total_frames"].sum(),
            "masks": g["masks"].sum(),
            "empty": g["empty"].sum(),
            INDIVIDUAL: v[v["athletes"] == INDIVIDUAL].groupby(by)["masks"].sum(),
            SYNCHRONISED: v[v["athletes"] == SYNCHRONISED].groupby(by)["masks"].sum(),
        }
    )
    out[[INDIVIDUAL, SYNCHRONISED]] = out[[INDIVIDUAL, SYNCHRONISED]].fillna(0).astype(np.int64)
    out["coverage"] = out["masks"] / out["frames"].where(out["frames"] > 0)
    nonempty = f[f["area"] > 0].groupby(by)
    out["mean_area_fraction"] = nonempty["area_fraction"].mean()
    out["temporal_iou"] = f.groupby(by)["iou_prev"].mean() if t.temporal else np.nan
    out.index.name = by
    return out.sort_values(["masks", "videos"], ascending=False)


def _outliers(t: StatsTables, by: str, z: float, top: int) -> dict[str, Any]:
    """Frames whose area is far from their video's or their group's typical area."""
    f = t.frames[t.frames["area"] > 0]
    if f.empty:
        return {"threshold": z, "count": 0, "top": []}
    groups = f["video_id"].map(t.videos.set_index("video_id")[by])
    zv = robust_z(f["area"].to_numpy(), f["video_id"].to_numpy())
    zg = robust_z(f["area"].to_numpy(), groups.to_numpy())
    worst = np.maximum(np.abs(zv), np.abs(zg))
    flagged = np.flatnonzero(worst > z)
    order = flagged[np.argsort(-worst[flagged], kind="stable")][:top]
    rows = f.iloc[order]
    return {
        "threshold": z,
        "count": int(flagged.size),
        "top": [
            {
                "video_id": r.video_id,
                "frame": int(r.frame),
                "area": int(r.area),
                "z_video": round(float(zv[i]), 2),
                f"z_{by}": round(float(zg[i]), 2),
            }
            for r, i in zip(rows.itertuples(), order)
        ],
    }


def check_group(by: str) -> None:
    """Refuse a grouping key the report does not know."""
    if by not in GROUPS:
        raise HMError(f"cannot group by {by!r}; use one of {', '.join(GROUPS)}")


def summarise(
    t: StatsTables, by: str = "action_type", *, outlier_z: float = OUTLIER_Z, top: int = 20
) -> dict:
    """The statistics report of a layer, grouped by a metadata key (JSON-able)."""
    check_group(by)
    v, f = t.videos, t.frames
    size = f.merge(v[["video_id", "height", "width"]], on="video_id", how="left")
    nonempty = size[size["area"] > 0]
    area_fraction = nonempty["area"] / (nonempty["height"] * nonempty["width"])
    masks, frames = int(v["masks"].sum()), int(v["total_frames"].sum())
    per_video_cov = (v["masks"] / v["total_frames"].where(v["total_frames"] > 0)).to_numpy()
    groups = _group_table(t, by)
    athletes = v.groupby("athletes").agg(videos=("video_id", "size"), masks=("masks", "sum"))
    corrected = int(v["corrected_frames"].sum())
    objects = f["objects"].value_counts().sort_index()
    report = {
        "store": t.store,
        "layer": t.layer,
        "group_by": by,
        "frames_counted_from": t.frames_source,
        "videos": int(len(v)),
        "videos_with_masks": int((v["masks"] > 0).sum()),
        "frames": frames,
        "masks": masks,
        "objects": int(v["objects"].sum()),
        "empty_masks": int(v["empty"].sum()),
        "coverage": _ratio(masks, frames),
        "athletes": {
            str(k): {"videos": int(r["videos"]), "masks": int(r["masks"])} for k, r in athletes.iterrows()
        },
        "objects_per_frame": {str(int(k)): int(c) for k, c in objects.items()},
        "area_fraction": distribution(area_fraction, 20, (0, 1)),
        "bbox_width": distribution(nonempty["w"]),
        "bbox_height": distribution(nonempty["h"]),
        "per_video_coverage": distribution(per_video_cov, 20, (0, 1)),
        "temporal_iou": distribution(f["iou_prev"], 20, (0, 1)) if t.temporal else None,
        "correction": {
            "frames_corrected": corrected,
            "coverage": _ratio(corrected, frames),
            "videos_with_corrections": int((v["corrected_frames"] > 0).sum()),
            "pm_vs_corrected": {
                "frames_compared": int(len(t.agreement)),
                "mean_iou": _mean(t.agreement["iou"]),
                "frames_changed": int((t.agreement["iou"] < 1.0).sum()),
            },
        },
        "outliers": _outliers(t, by, outlier_z, top),
        f"by_{by}": {
            str(k): {
                **{c: int(r[c]) for c in ("videos", "videos_with_masks", "frames", "masks", "empty")},
                INDIVIDUAL: int(r[INDIVIDUAL]),
                SYNCHRONISED: int(r[SYNCHRONISED]),
                **{c: _float(r[c]) for c in ("coverage", "mean_area_fraction", "temporal_iou")},
            }
            for k, r in groups.iterrows()
        },
    }
    return report


def compute_stats(
    store_path: str | os.PathLike,
    layer: str = "curated",
    *,
    by: str = "action_type",
    videos_info: Iterable[Any] | Mapping[str, Any] | None = None,
    temporal: bool = True,
    reporter: Reporter | None = None,
) -> dict:
    """Statistics of one layer of a store, grouped by ``by`` (see :func:`summarise`)."""
    check_group(by)
    tables = collect_tables(store_path, layer, videos_info=videos_info, temporal=temporal, reporter=reporter)
    return summarise(tables, by)
