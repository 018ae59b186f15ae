"""``hm-annotate export-masks``: write a store layer as a tree of per-frame mask images."""

from __future__ import annotations

import click

from hm_annotate.io import MASK_TREE_FORMATS, mask_tree_format
from hm_annotate.store import VIEWS, MaskStore


@click.command("export-masks")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(MASK_TREE_FORMATS)), required=True)
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
@click.option("--layer", type=click.Choice(VIEWS), default="curated", show_default=True)
@click.option("--ext", type=click.Choice(["jpg", "png"]), default=None, help="Image type (format default).")
@click.option("--videos", multiple=True, help="Only these video ids (repeatable).")
def command(store: str, fmt: str, out: str, layer: str, ext: str | None, videos: tuple[str, ...]) -> None:
    """Export LAYER of STORE as one mask image per frame under OUT/<video_id>/."""
    module = mask_tree_format(fmt)
    with MaskStore.open(store) as st:
        for vid in videos:
            if not st.has(vid, layer):
                raise click.ClickException(f"{store}: video {vid!r} has no {layer!r} masks")
        kwargs = {"ext": ext} if ext else {}
        n = module.write_tree(st, out, layer=layer, videos=list(videos) or None, progress=True, **kwargs)
    click.echo(f"wrote {n:,} mask images to {out}")
