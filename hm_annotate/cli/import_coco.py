"""``hm-annotate import-coco``: bring corrected masks (COCO RLE or polygons) back into a store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from hm_annotate.cli.options import (
    dataset_frame_paths,
    dataset_options,
    file_name_pattern_option,
    layer_option,
    stack,
)
from hm_annotate.io.coco import ImportSummary, import_coco
from hm_annotate.io.polygons import POLYGON_MODES
from hm_annotate.reporting import Reporter


def import_options(fn: Callable) -> Callable:
    """The options every import command shares (store, layer, dry run, names, annotator, dataset)."""
    options = [
        click.option("--store", required=True, type=click.Path(exists=True, dir_okay=False),
                     help="Store to update."),
        layer_option("corrected", write=True),
        click.option("--dry-run", is_flag=True, help="Validate and summarise; write nothing."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        file_name_pattern_option(
            "How file names encode {video_id} and {frame} (default: as the export); files that "
            "carry the video id and frame numbers need none."
        ),
        click.option("--video", "videos", multiple=True,
                     help="Map file names only to these videos (repeatable)."),
        click.option("--annotator", default=None, help="Who corrected the masks [file info, else $USER]."),
        click.option("--changed-only", is_flag=True,
                     help="Write only frames that differ from the curated masks."),
        dataset_options(old_name=True, note="File names are then the frames' paths in it."),
    ]
    return stack(fn, options)


def run_import(
    importer: Callable[..., ImportSummary],
    path: str,
    store: str,
    as_json: bool,
    videos: tuple[str, ...],
    dataset_format: str | None,
    data_root: str | None,
    **kwargs: Any,
) -> None:
    """Run an importer with the shared options and print its summary."""
    paths = dataset_frame_paths(dataset_format, data_root)
    reporter = Reporter(progress=None, echo=True)
    s = importer(path, store, videos=list(videos) or None, frame_paths=paths, reporter=reporter, **kwargs)
    if as_json:
        click.echo(json.dumps(s.as_dict(), indent=2))
        return
    print_summary(s, store)


@click.command("import-coco")
@click.argument("coco_file", type=click.Path(exists=True, dir_okay=False))
@import_options
@click.option(
    "--polygons",
    "polygon_mode",
    type=click.Choice(POLYGON_MODES),
    default="auto",
    show_default=True,
    help="Polygon vertices are continuous coordinates (coco) or border-pixel centres as contour "
    "tracers write them (contour); auto: contour when all vertices are integers.",
)
def command(coco_file: str, store: str, **kwargs: Any) -> None:
    """Import the masks of COCO_FILE into LAYER of STORE, all or nothing.

    Frames in the file replace the layer's frames; other frames stay as they were; an image
    without annotations is a frame without athlete. Objects without an object_id attribute take
    the ids of the current objects they overlap best (Hungarian matching on IoU); the summary
    gives each object's mean IoU and warns where ids look swapped. With --dataset-format, file names
    are the dataset's frame paths and frames must be frames of the dataset.
    """
    run_import(import_coco, coco_file, store, **kwargs)


def print_summary(s: ImportSummary, store: str) -> None:
    """The import summary in lines: frames, IoU (union and per object), id matching, warnings."""
    iou = "n/a" if s.mean_iou is None else f"{s.mean_iou:.4f}"
    click.echo(
        f"{s.images:,} frames of {s.videos:,} video{'' if s.videos == 1 else 's'}: {s.added:,} added, "
        f"{s.changed:,} changed, "
        f"{s.unchanged:,} unchanged; mean IoU against the curated masks before: {iou}"
    )
    for vid, v in s.per_video.items():
        if v["object_iou"]:
            objects = ", ".join(f"object {k} {x:.4f}" for k, x in sorted(v["object_iou"].items()))
            click.echo(f"  {vid}: mean IoU per object: {objects}")
    if s.matched_frames:
        click.echo(f"{s.matched_frames:,} frames had objects without object_id: ids given by IoU matching")
    for vid, v in s.per_video.items():
        if v["swapped_frames"]:
            frames = v["swapped_frames"]
            click.echo(
                f"warning: {vid}: object ids look swapped on {len(frames)} frames (first {frames[0]}): "
                "the best IoU matching pairs the objects differently; check the object_id attributes",
                err=True,
            )
    if s.ignored_annotations:
        click.echo(f"ignored {s.ignored_annotations:,} annotations of other categories than 'athlete'")
    click.echo(f"written to layer {s.layer!r} of {store}" if s.written else "nothing written")
