"""``hm-annotate export-boxes``: per-frame actor boxes for AQA methods that crop the actor."""

from __future__ import annotations

from pathlib import Path

import click

from hm_annotate.cli.options import checked_by, layer_option, videos_option


@click.command("export-boxes")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE.csv|FILE.json",
              help="CSV rows video_id,frame,x0,y0,x1,y1,empty, or one JSON document per video.")
@layer_option("curated")
@click.option("--smooth", "k", default=1, show_default=True, type=click.IntRange(min=1), metavar="K",
              help="Centred moving window over K frames (1: no smoothing).")
@click.option("--smooth-method", default="median", show_default=True, type=click.Choice(["median", "mean"]),
              help="Statistic of the moving window.")
@click.option("--pad", default="0", show_default=True, metavar="P",
              callback=checked_by("hm_annotate.boxes:parse_pad"),
              help="Margin added on every side: pixels (8) or a share of the box size (10%).")
@videos_option()
def command(
    store: str, out: str, layer: str, k: int, smooth_method: str, pad: str, videos: tuple[str, ...]
) -> None:
    """Write one box per frame of STORE: the box of the union of the athletes' masks (pixels,
    x1/y1 exclusive), read from the store's bbox arrays without decoding. Frames annotated empty
    get a box interpolated from their neighbours and empty=1.
    """
    from hm_annotate.boxes import iter_store_boxes, write_csv, write_json
    from hm_annotate.reporting import Reporter

    suffix = Path(out).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise click.BadParameter(f"{out}: write a .csv or a .json file", param_hint="'--out'")
    items = iter_store_boxes(
        store, layer, k=k, method=smooth_method, pad=pad, videos=list(videos) or None,
        reporter=Reporter(progress=None, echo=True),
    )
    n = write_csv(items, out) if suffix == ".csv" else write_json(items, out, layer, k, smooth_method, pad)
    click.echo(f"wrote {n:,} boxes to {out}", err=True)
