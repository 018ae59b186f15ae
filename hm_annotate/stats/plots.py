"""PNG charts of the statistics: masks per group (the paper's Fig. 4), area histogram, coverage per video.

matplotlib is imported here only, with the Agg backend, so the stats command stays light without
``--plots`` and works without a display.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hm_annotate.stats.collect import INDIVIDUAL, SYNCHRONISED, StatsTables

COLOURS = {INDIVIDUAL: "#3b75af", SYNCHRONISED: "#ef8636"}
# above this many videos the coverage chart is a ranked curve instead of labelled bars
_BARS_UP_TO = 60


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt



def _save(plt, fig, ax, out: Path) -> Path:
    """Every chart's finish: no top/right frame, tight layout, written to ``out`` and closed."""
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out

def masks_per_group(t: StatsTables, by: str, out: Path) -> Path:
    """Bars of masks per group, largest first, stacked individual / synchronised (Fig. 4 style)."""
    plt = _pyplot()
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    table = t.videos.pivot_table(index=by, columns="athletes", values="masks", aggfunc="sum", fill_value=0)
    for col in (INDIVIDUAL, SYNCHRONISED):
        if col not in table:
            table[col] = 0
    table["total"] = table[INDIVIDUAL] + table[SYNCHRONISED]
    table = table.sort_values("total", ascending=False, kind="stable")
    n = len(table)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.24 * n + 2), 16), 4.4), dpi=100)
    x = np.arange(n)
    bottom = np.zeros(n)
    handles = []
    for col in (INDIVIDUAL, SYNCHRONISED):
        values = table[col].to_numpy()
        if values.any():
            on = values > 0  # no zero-height bars: their edges would pin the y-limit
            ax.bar(x[on], values[on], bottom=bottom[on], color=COLOURS[col], width=0.8)
            handles.append(Patch(color=COLOURS[col], label=f"{col} ({values.sum():,})"))
            bottom += values
    ax.set_xticks(x)
    labels = [str(i) for i in table.index]
    ax.set_xticklabels(labels, rotation=90 if n > 8 else 0, fontsize=7 if n > 30 else 9)
    ax.set_xlim(-0.6, n - 0.4)
    ax.margins(y=0.08)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.set_ylabel("masks (annotated frames)")
    what = by.replace("_", " ")
    ax.set_xlabel(what)
    total = int(table["total"].sum())
    ax.set_title(f"Masks per {what}: {total:,} masks in {n} groups ({t.layer} layer)", fontsize=10)
    for i in range(min(n, 3)):
        label = f"{int(table['total'].iloc[i]):,}"
        ax.annotate(label, (x[i], bottom[i]), ha="center", va="bottom", fontsize=7)
    ax.legend(handles=handles, frameon=False, loc="upper right")
    return _save(plt, fig, ax, out)


def area_histogram(t: StatsTables, out: Path) -> Path:
    """Histogram of the foreground's share of the frame, individual and synchronised overlaid."""
    plt = _pyplot()
    f = t.frames.merge(t.videos[["video_id", "height", "width", "athletes"]], on="video_id")
    f = f[f["area"] > 0]
    frac = (f["area"] / (f["height"] * f["width"])).to_numpy()
    top = float(np.percentile(frac, 99.5)) * 1.1 if frac.size else 1.0
    bins = np.linspace(0, max(top, 1e-3), 50)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for col in (INDIVIDUAL, SYNCHRONISED):
        sel = (f["athletes"] == col).to_numpy()
        if sel.any():
            ax.hist(frac[sel], bins=bins, alpha=0.7, color=COLOURS[col], label=f"{col} ({sel.sum():,})")
    if frac.size:
        ax.axvline(np.median(frac), color="k", lw=1, ls="--", label=f"median {np.median(frac):.3f}")
    ax.set_xlabel("mask area / frame area")
    ax.set_ylabel("masks")
    ax.set_title(f"Mask area ({len(frac):,} non-empty masks, {t.layer} layer)")
    ax.legend(frameon=False)
    return _save(plt, fig, ax, out)


def coverage_per_video(t: StatsTables, out: Path) -> Path:
    """Share of each video's frames that have a mask: labelled bars, or a ranked curve when many."""
    plt = _pyplot()
    total = t.videos["total_frames"]
    v = t.videos.assign(coverage=t.videos["masks"] / total.where(total > 0))
    v = v.sort_values("coverage", kind="stable").fillna({"coverage": 0.0})
    n = len(v)
    width = max(6.4, min(0.22 * n + 2, 16)) if n <= _BARS_UP_TO else 6.4
    fig, ax = plt.subplots(figsize=(width, 4.0), dpi=100)
    if n <= _BARS_UP_TO:
        ax.bar(np.arange(n), v["coverage"], color="#55a868")
        ax.set_xticks(np.arange(n))
        ax.set_xticklabels(v["video_id"], rotation=90, fontsize=6)
    else:
        ax.plot(np.arange(1, n + 1), v["coverage"].to_numpy(), color="#55a868", lw=1.5)
        ax.fill_between(np.arange(1, n + 1), v["coverage"].to_numpy(), color="#55a868", alpha=0.3)
        ax.set_xlabel("videos, ranked by coverage")
    full = int((v["coverage"] >= 1.0).sum())
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"frames with a mask / frames ({t.frames_source})")
    ax.set_title(f"Coverage per video: {full:,} of {n:,} fully covered ({t.layer} layer)")
    return _save(plt, fig, ax, out)


def temporal_iou_histogram(t: StatsTables, out: Path) -> Path:
    """Histogram of the IoU of consecutive frames' masks (low values: flicker or jumps)."""
    plt = _pyplot()
    iou = t.frames["iou_prev"].dropna().to_numpy()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.hist(iou, bins=np.linspace(0, 1, 41), color="#8172b2")
    if iou.size:
        ax.axvline(iou.mean(), color="k", lw=1, ls="--", label=f"mean {iou.mean():.3f}")
        ax.legend(frameon=False)
    ax.set_xlabel("IoU with the previous frame's mask")
    ax.set_ylabel("frame pairs")
    ax.set_title(f"Temporal stability ({iou.size:,} consecutive pairs, {t.layer} layer)")
    return _save(plt, fig, ax, out)


def write_plots(t: StatsTables, by: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write every chart into ``out_dir`` (created); returns the files written."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    written = [
        masks_per_group(t, by, d / f"masks_per_{by}.png"),
        area_histogram(t, d / "area_fraction.png"),
        coverage_per_video(t, d / "coverage_per_video.png"),
    ]
    if t.temporal:
        written.append(temporal_iou_histogram(t, d / "temporal_iou.png"))
    return written
