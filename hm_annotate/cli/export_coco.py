"""``hm-annotate export-coco``: a store layer as COCO instance segmentation (RLE), for correction."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from hm_annotate.io.coco import (
    DEFAULT_FILE_NAME_PATTERN,
    coco_results,
    export_coco,
    read_frame_list,
    write_coco,
)
from hm_annotate.store import VIEWS


def dataset_options(fn: Callable) -> Callable:
    """``--dataset NAME --data-root DIR``: name frames by the dataset's own frame paths."""
    fn = click.option("--data-root", type=click.Path(exists=True, file_okay=False), help="Dataset root.")(fn)
    return click.option(
        "--dataset",
        default=None,
        help="Dataset format (finediving, mtl-aqa, aqa7, videos): file_name = the frame's path in it.",
    )(fn)


def dataset_videos(dataset: str | None, data_root: str | None, videos: Sequence[str] | None = None) -> list:
    """The dataset's Video records when --dataset/--data-root are given (both or neither)."""
    if (dataset is None) != (data_root is None):
        raise click.UsageError("--dataset and --data-root go together")
    if dataset is None:
        return []
    from hm_annotate.datasets import DatasetWarning, load_videos
    from hm_annotate.reporting import Reporter

    with Reporter(echo=True).capture(DatasetWarning):
        return load_videos(dataset, data_root, videos=videos)


def export_options(fn: Callable) -> Callable:
    """STORE, --out, --layer, --videos and --file-name-pattern, as every JSON export takes them."""
    options = [
        click.argument("store", type=click.Path(exists=True, dir_okay=False)),
        click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file to write."),
        click.option("--layer", type=click.Choice(VIEWS), default="curated", show_default=True),
        click.option("--videos", multiple=True, help="Only these video ids (repeatable)."),
        click.option(
            "--file-name-pattern",
            default=None,
            help="Frame file name template with {video_id} and {frame} (default: the video's metadata "
            f"'frame_name_pattern', else {DEFAULT_FILE_NAME_PATTERN}).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return dataset_options(fn)


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
    dataset: str | None,
    data_root: str | None,
) -> None:
    """Export LAYER of STORE as COCO instances: one image per frame, one RLE annotation per object.

    Athlete-free frames are images without annotations. Image ids depend on (video, frame) only,
    so exports of any subset or of another store of the same dataset pair up in COCOeval.
    """
    from hm_annotate.io.coco import dataset_frame_paths
    from hm_annotate.reporting import Reporter

    paths = dataset_frame_paths(dataset_videos(dataset, data_root)) if dataset else None
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
