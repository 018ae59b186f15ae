"""``hm-annotate export-masks``: write a store layer as a tree of per-frame mask images."""

from __future__ import annotations

import click

from hm_annotate.io import MASK_TREE_FORMATS, mask_tree_format
from hm_annotate.reporting import Reporter
from hm_annotate.store import VIEWS, MaskStore


@click.command("export-masks")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(sorted(MASK_TREE_FORMATS)), required=True)
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="Folder to write.")
@click.option("--layer", type=click.Choice(VIEWS), default="curated", show_default=True)
@click.option("--ext", type=click.Choice(["jpg", "png"]), default=None, help="Image type (format default).")
@click.option("--videos", multiple=True, help="Only these video ids (repeatable).")
@click.option(
    "--frames-root",
    type=click.Path(exists=True, file_okay=False),
    help="davis: copy each masked frame from <frames-root>/<video_id>/ into JPEGImages/480p/.",
)
def command(
    store: str,
    fmt: str,
    out: str,
    layer: str,
    ext: str | None,
    videos: tuple[str, ...],
    frames_root: str | None,
) -> None:
    """Export LAYER of STORE as one mask image per frame.

    finediving-hm: OUT/<video_id>/<NNNNN>.jpg. davis: the DAVIS 2017 layout that the official
    davis2017-evaluation reads as is (OUT/Annotations/480p/<video_id>/<NNNNN>.png,
    OUT/ImageSets/2017/val.txt, OUT/JPEGImages/480p/ with --frames-root).
    """
    module = mask_tree_format(fmt)
    with MaskStore.open(store) as st:
        for vid in videos:
            if not st.has(vid, layer):
                raise click.ClickException(f"{store}: video {vid!r} has no {layer!r} masks")
        kwargs = {"ext": ext} if ext else {}
        if frames_root is not None:
            if fmt != "davis":
                raise click.UsageError("--frames-root goes with --format davis")
            kwargs["frames_root"] = frames_root
        reporter = Reporter(progress=True, echo=True)
        n = module.write_tree(st, out, layer=layer, videos=list(videos) or None, reporter=reporter, **kwargs)
    click.echo(f"wrote {n:,} mask images to {out}")
