"""``hm-annotate export-coco``: a store layer as COCO instance segmentation (RLE), for correction."""

from __future__ import annotations

from collections.abc import Callable

import click

from hm_annotate.cli.options import (
    dataset_frame_paths,
    dataset_options,
    file_name_pattern_option,
    layer_option,
    stack,
    videos_option,
)
from hm_annotate.io.coco import (
    DEFAULT_FILE_NAME_PATTERN,
    coco_results,
    export_coco,
    read_frame_list,
    write_coco,
)
from hm_annotate.reporting import Reporter


def export_options(fn: Callable) -> Callable:
    """STORE, --out, --layer, --videos and --file-name-pattern, as every JSON export takes them."""
    options = [
        click.argument("store", type=click.Path(exists=True, dir_okay=False)),
        click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file to write."),
        layer_option("curated"),
        videos_option(),
        file_name_pattern_option(
            "Frame file name template with {video_id} and {frame} (default: the video's metadata "
            f"'frame_name_pattern', else {DEFAULT_FILE_NAME_PATTERN})."
        ),
        dataset_options(old_name=True, note="File names are then the frames' paths in it."),
    ]
    return stack(fn, options)


@click.command("export-coco")
@export_options
@click.option(
    "--frames-from",
    type=click.Path(exists=True, dir_okay=False),
    help="Only the frames listed in this CSV (columns video_id, frame; e.g. the review queue).",
)
@click.option(
    "--results",
    is_flag=True,
    help="Write a COCO results list (image_id, category_id, segmentation, score) for COCOeval's loadRes "
    "instead of a dataset; the score is the segmenter's, 1.0 where there is none.",
)
def command(
    store: str,
    out: str,
    layer: str,
    videos: tuple[str, ...],
    file_name_pattern: str | None,
    frames_from: str | None,
    results: bool,
    dataset_format: str | None,
    data_root: str | None,
) -> None:
    """Export LAYER of STORE as COCO instances: one image per frame, one RLE annotation per object.

    Athlete-free frames are images without annotations. Image ids depend on (video, frame) only,
    so exports of any subset or of another store of the same dataset pair up in COCOeval.
    """
    paths = dataset_frame_paths(dataset_format, data_root)
    frames = read_frame_list(frames_from) if frames_from else None
    data = export_coco(
        store, layer, videos=list(videos) or None, frames=frames, file_name_pattern=file_name_pattern,
        frame_paths=paths, reporter=Reporter(progress=None, echo=True),
    )  # fmt: skip
    if results:
        write_coco(coco_results(data), out)
        click.echo(f"wrote {len(data['annotations']):,} results of {len(data['images']):,} images to {out}")
        return
    write_coco(data, out)
    click.echo(f"wrote {len(data['images']):,} images and {len(data['annotations']):,} masks to {out}")
