"""``hm-annotate export-cvat``: one video's masks and frames as zips for a CVAT correction task."""

from __future__ import annotations

import json

import click

from hm_annotate.cli.options import dataset_options, dataset_videos, file_name_pattern_option, layer_option
from hm_annotate.io.coco import dataset_frame_paths
from hm_annotate.io.cvat import CVAT_LABELS, export_cvat, export_cvat_tasks


@click.command("export-cvat")
@click.argument("store", type=click.Path(exists=True, dir_okay=False))
@click.option("--video", "videos", required=True, multiple=True,
              help="Video id to export (repeatable: one CVAT task per video, --out is then a folder).")
@click.option(
    "--frames-root",
    type=click.Path(exists=True, file_okay=False),
    help="Frames folder; frame images are <frames-root>/<file_name> [the dataset's, with --dataset-format].",
)
@click.option("--out", required=True, type=click.Path(),
              help="Annotations zip (task.zip); with several videos a folder for <video>.zip and "
              "<video>_images.zip per video (ids percent-encoded).")
@click.option("--images-out", type=click.Path(dir_okay=False), help="Task images zip [<out>_images.zip].")
@click.option("--no-images", is_flag=True, help="Write only the annotations zip.")
@layer_option("curated")
@file_name_pattern_option("Frame path template, as for export-coco.")
@dataset_options(old_name=True, note="Frame images are then the dataset's own.")
def command(
    store: str,
    videos: tuple[str, ...],
    frames_root: str | None,
    out: str,
    images_out: str | None,
    no_images: bool,
    layer: str,
    file_name_pattern: str | None,
    dataset_format: str | None,
    data_root: str | None,
) -> None:
    """Export videos of STORE for CVAT's "COCO 1.0" importer, one task per video.

    \b
    In CVAT: create a task with the label below, upload the images zip as its data,
    then Actions > Upload annotations > COCO 1.0 > the annotations zip. Correct, export
    the task as COCO 1.0 and run: hm-annotate import-coco instances_default.json --store STORE
    """
    paths = None
    if dataset_format or data_root:
        records = dataset_videos(dataset_format, data_root, list(videos))
        paths = dataset_frame_paths(records)
        frames_root = frames_root or records[0].frames_root
    if frames_root is None:
        raise click.UsageError("give --frames-root, or --dataset-format and --data-root")
    if len(videos) > 1:
        if images_out:
            raise click.UsageError("--images-out goes with one --video; several write <video>_images.zip")
        done = export_cvat_tasks(
            store, videos, frames_root, out, with_images=not no_images, layer=layer,
            file_name_pattern=file_name_pattern, frame_paths=paths,
        )
    else:
        done = [
            export_cvat(
                store, videos[0], frames_root, out, images_out=images_out, with_images=not no_images,
                layer=layer, file_name_pattern=file_name_pattern, frame_paths=paths,
            )
        ]
    for res in done:
        click.echo(f"wrote {res.masks:,} masks of {res.frames:,} frames to {res.annotations}")
        if res.images is not None:
            click.echo(f"wrote {res.frames:,} task images to {res.images}")
    click.echo(f"CVAT labels (Raw constructor): {json.dumps(CVAT_LABELS)}")
