"""``hm-annotate info``: what a mask store holds."""

from __future__ import annotations

import json

import click

from hm_annotate.store import LAYERS, MaskStore, summarise


@click.command("info")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def command(store: str, as_json: bool) -> None:
    """Summarise STORE: videos, frames and masks per layer, bytes on disk, schema version."""
    with MaskStore.open(store) as st:
        info = summarise(st)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"store           {info['path']}")
    click.echo(f"schema_version  {info['schema_version']}")
    click.echo(f"bytes           {info['bytes']:,}")
    if info["journal_parts"]:
        click.echo(f"journal parts   {info['journal_parts']} (folded in by the next writer)")
    click.echo(f"videos          {info['videos']:,}")
    for layer in (*LAYERS, "curated"):
        d = info["layers"][layer]
        click.echo(
            f"{layer:<15} {d['videos']:>8,} videos {d['frames']:>10,} frames {d['masks']:>10,} masks"
            f" {d['empty_frames']:>8,} empty"
        )
