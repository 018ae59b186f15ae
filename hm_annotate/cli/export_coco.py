"""``hm-annotate export-coco``: a store layer as COCO instance segmentation (RLE), for correction."""

from __future__ import annotations

import click

from hm_annotate.io.coco import DEFAULT_FILE_NAME_PATTERN, export_coco, read_frame_list, write_coco
from hm_annotate.store import VIEWS


@click.command("export-coco")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="COCO JSON file to write.")
@click.option("--layer", type=click.Choice(VIEWS), default="curated", show_default=True)
@click.option("--videos", multiple=True, help="Only these video ids (repeatable).")
@click.option(
    "--frames-from",
    type=click.Path(exists=True, dir_okay=False),
    help="Only the frames listed in this CSV (columns video_id, frame; e.g. the review queue).",
)
@click.option(
    "--file-name-pattern",
    default=None,
    help="Image file_name template with {video_id} and {frame} (default: the video's metadata "
    f"'frame_name_pattern', else {DEFAULT_FILE_NAME_PATTERN}).",
)
def command(
    store: str,
    out: str,
    layer: str,
    videos: tuple[str, ...],
    frames_from: str | None,
    file_name_pattern: str | None,
) -> None:
    """Export LAYER of STORE as COCO instances: one image per frame, one RLE annotation per object."""
    frames = read_frame_list(frames_from) if frames_from else None
    data = export_coco(store, layer, list(videos) or None, frames, file_name_pattern, progress=True)
    write_coco(data, out)
    click.echo(f"wrote {len(data['images']):,} images and {len(data['annotations']):,} masks to {out}")
