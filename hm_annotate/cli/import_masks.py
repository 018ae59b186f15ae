"""``hm-annotate import-masks``: bring a tree of per-frame mask images into a store."""

from __future__ import annotations

import click

from hm_annotate.io import MASK_TREE_FORMATS, mask_tree_format
from hm_annotate.reporting import Reporter
from hm_annotate.store import LAYERS, writer


@click.command("import-masks")
@click.argument("src", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(MASK_TREE_FORMATS)), required=True)
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, help="Store to write.")
@click.option("--layer", type=click.Choice(LAYERS), default="corrected", show_default=True)
@click.option(
    "--frames-root",
    type=click.Path(exists=True, file_okay=False),
    help="Frames folder (<root>/<video_id>/<NNNNN>.jpg): check that masks match frames by name and size.",
)
def command(src: str, fmt: str, out: str, layer: str, frames_root: str | None) -> None:
    """Import every video's masks under SRC into the LAYER of a store, all or nothing.

    A new store is built beside OUT and appears only when the import succeeds.
    """
    module = mask_tree_format(fmt)
    videos = frames = 0
    with writer(out) as st, st.transaction():
        reporter = Reporter(progress=True, echo=True)
        for vid, data in module.read_tree(src, frames_root=frames_root, reporter=reporter):
            st.put(vid, layer, data)
            videos += 1
            frames += len(data)
    click.echo(f"imported {frames:,} masks of {videos:,} videos into {out} (layer {layer})")
