"""``hm-annotate merge``: combine shard stores into one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hm_annotate.merge import merge_stores
from hm_annotate.reporting import Reporter


@click.command("merge")
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--force", is_flag=True, help="Merge into OUT even if it exists (its videos are kept and checked)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
def command(out: str, parts: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Combine the shard stores PARTS into OUT, all or nothing.

    A video may appear in several parts only with identical frames, masks and metadata; any
    difference is reported (video, layer, parts, frame) and nothing is written.
    """
    if not force and Path(out).exists():
        raise click.UsageError(f"{out} exists; pass --force to merge the parts into it")
    summary = merge_stores(out, parts, force=force, reporter=Reporter(progress=None, echo=True))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    w = summary["written"]
    click.echo(
        f"{summary['out']}: {summary['videos']} videos; wrote {w['pseudo']} pseudo and "
        f"{w['corrected']} corrected layers ({w['frames']} frames) from {len(summary['parts'])} parts"
    )
    if summary["identical_duplicates"]:
        click.echo(f"{summary['identical_duplicates']} identical duplicate layers were written once")
