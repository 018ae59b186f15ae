"""``hm-annotate export-ytvis``: a store layer as YouTube-VIS JSON (one annotation per athlete)."""

from __future__ import annotations

import click

from hm_annotate.cli.export_coco import dataset_options, dataset_videos
from hm_annotate.io.coco import DEFAULT_FILE_NAME_PATTERN, dataset_frame_paths, write_coco
from hm_annotate.io.ytvis import export_ytvis
from hm_annotate.store import VIEWS


@click.command("export-ytvis")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="YouTube-VIS JSON file to write.")
@click.option("--layer", type=click.Choice(VIEWS), default="curated", show_default=True)
@click.option("--videos", multiple=True, help="Only these video ids (repeatable).")
@click.option(
    "--file-name-pattern",
    default=None,
    help="file_names template with {video_id} and {frame} (default: the video's metadata "
    f"'frame_name_pattern', else {DEFAULT_FILE_NAME_PATTERN}).",
)
@dataset_options
def command(
    store: str,
    out: str,
    layer: str,
    videos: tuple[str, ...],
    file_name_pattern: str | None,
    dataset: str | None,
    data_root: str | None,
) -> None:
    """Export LAYER of STORE in the YouTube-VIS 2019/2021 layout: one annotation per athlete and
    video with a per-frame RLE (null where absent), areas and boxes."""
    paths = dataset_frame_paths(dataset_videos(dataset, data_root)) if dataset else None
    data = export_ytvis(store, layer, list(videos) or None, file_name_pattern, paths)
    write_coco(data, out)
    click.echo(
        f"wrote {len(data['videos']):,} videos and {len(data['annotations']):,} object tracks to {out}"
    )
