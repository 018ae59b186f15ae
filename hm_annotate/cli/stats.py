"""``hm-annotate stats``: dataset statistics of a mask store (counts per group, coverage, distributions)."""

from __future__ import annotations

import json

import click

from hm_annotate.cli.options import checked_by, dataset_options, dataset_videos, layer_option


@click.command("stats")
@click.argument("store", type=click.Path(dir_okay=False))
@layer_option("curated")
@click.option("--by", default="action_type", show_default=True,
              callback=checked_by("hm_annotate.stats.summary:check_group"),
              help="Group by action_type, event, split or athletes (individual/synchronised).")
@dataset_options(note="Frame counts and metadata come from it.")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "csv", "markdown"]), help="Text output format.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
@click.option("--plots", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="Also write PNG charts into DIR.")
@click.option("--temporal/--no-temporal", default=True, show_default=True,
              help="Measure the IoU of consecutive frames (RLE intersections, no decoding).")
def command(
    store: str,
    layer: str,
    by: str,
    dataset_format: str | None,
    data_root: str | None,
    fmt: str,
    as_json: bool,
    plots: str | None,
    temporal: bool,
) -> None:
    """Statistics of STORE's masks: videos, frames and masks per group (the paper's Fig. 4),
    individual vs synchronised, coverage, empty masks, objects per frame, mask-area and box
    distributions, temporal stability, correction coverage and pseudo-vs-corrected agreement,
    area outliers. Areas and boxes come from the store's arrays; no mask is decoded.
    """
    from hm_annotate.reporting import Reporter
    from hm_annotate.stats import collect_tables, summarise
    from hm_annotate.stats.tables import format_report

    videos = dataset_videos(dataset_format, data_root)
    reporter = Reporter(progress=None, echo=True)
    tables = collect_tables(store, layer, videos_info=videos, temporal=temporal, reporter=reporter)
    report = summarise(tables, by)
    if plots:
        from hm_annotate.stats.plots import write_plots

        for path in write_plots(tables, by, plots):
            click.echo(f"wrote {path}", err=True)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report, fmt))
