"""The statistics report as text: an aligned table, CSV of the group table, or Markdown."""

from __future__ import annotations

import csv
import io
from typing import Any

GROUP_COLUMNS = (
    "videos", "videos_with_masks", "frames", "masks", "empty", "individual", "synchronised",
    "coverage", "mean_area_fraction", "temporal_iou",
)  # fmt: skip
DISTRIBUTIONS = ("area_fraction", "bbox_width", "bbox_height", "per_video_coverage", "temporal_iou")
FORMATS = ("table", "csv", "markdown")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def group_rows(report: dict) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the per-group table, largest group first, then an ``all`` row."""
    by = report["group_by"]
    groups = report[f"by_{by}"]
    header = [by, *GROUP_COLUMNS]
    rows = [[name, *(g[c] for c in GROUP_COLUMNS)] for name, g in groups.items()]
    total = {c: sum(g[c] for g in groups.values()) for c in GROUP_COLUMNS[:7]}
    temporal = report["temporal_iou"]
    area = report["area_fraction"]
    rows.append(
        ["all", *(total[c] for c in GROUP_COLUMNS[:7]), report["coverage"], area["mean"],
         temporal["mean"] if temporal else None]
    )  # fmt: skip
    return header, rows


def summary_rows(report: dict) -> list[tuple[str, Any]]:
    """Headline numbers as (name, value) pairs."""
    corr = report["correction"]
    agree = corr["pm_vs_corrected"]
    outliers = report["outliers"]
    rows: list[tuple[str, Any]] = [
        ("store", report["store"]),
        ("layer", report["layer"]),
        ("videos", report["videos"]),
        ("videos with masks", report["videos_with_masks"]),
        (f"frames (from {report['frames_counted_from']})", report["frames"]),
        ("masks (annotated frames)", report["masks"]),
        ("objects", report["objects"]),
        ("empty masks", report["empty_masks"]),
        ("coverage", report["coverage"]),
    ]
    rows += [(f"masks, {k}", v["masks"]) for k, v in report["athletes"].items()]
    rows += [(f"frames with {k} object(s)", v) for k, v in report["objects_per_frame"].items()]
    rows += [
        ("frames corrected", corr["frames_corrected"]),
        ("correction coverage", corr["coverage"]),
        ("PM vs corrected: frames compared", agree["frames_compared"]),
        ("PM vs corrected: mean IoU", agree["mean_iou"]),
        ("PM vs corrected: frames changed", agree["frames_changed"]),
        (f"area outliers (|robust z| > {outliers['threshold']:g})", outliers["count"]),
    ]
    return rows


def distribution_rows(report: dict) -> tuple[list[str], list[list[Any]]]:
    """Mean, median and 5th/95th percentiles of each distribution measured."""
    header = ["measure", "count", "mean", "median", "p5", "p95"]
    rows = []
    for name in DISTRIBUTIONS:
        d = report.get(name)
        if d:
            rows.append([name, d["count"], d["mean"], d["median"], d["p5"], d["p95"]])
    return header, rows


def _aligned(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[[_cell(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _outlier_rows(report: dict) -> tuple[list[str], list[list[Any]]]:
    top = report["outliers"]["top"]
    header = list(top[0]) if top else []
    # frame numbers are names, not quantities: no thousands separators
    return header, [[str(v) if k == "frame" else v for k, v in r.items()] for r in top]


def format_report(report: dict, fmt: str = "table") -> str:
    """Render a :func:`~hm_annotate.stats.compute_stats` report as ``table``, ``csv`` or ``markdown``."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        header, rows = group_rows(report)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    render = _markdown if fmt == "markdown" else _aligned
    summary = render(["statistic", "value"], [list(r) for r in summary_rows(report)])
    parts = [summary, render(*group_rows(report)), render(*distribution_rows(report))]
    header, rows = _outlier_rows(report)
    if rows:
        parts.append(render(header, rows))
    if fmt == "markdown":
        titles = ["## Summary", f"## Masks per {report['group_by'].replace('_', ' ')}", "## Distributions",
                  "## Largest area outliers"]  # fmt: skip
        return "\n\n".join(f"{t}\n\n{p}" for t, p in zip(titles, parts))
    return "\n\n".join(parts)
