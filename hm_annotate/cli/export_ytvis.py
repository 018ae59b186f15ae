"""``hm-annotate export-ytvis``: a store layer as YouTube-VIS JSON (one annotation per athlete)."""

from __future__ import annotations

from typing import Any

import click

from hm_annotate.cli.export_coco import export_options
from hm_annotate.cli.options import dataset_frame_paths
from hm_annotate.io.coco import write_coco
from hm_annotate.io.ytvis import export_ytvis


@click.command("export-ytvis")
@export_options
def command(
    store: str, out: str, dataset_format: str | None, data_root: str | None, **options: Any
) -> None:
    """Export LAYER of STORE in the YouTube-VIS 2019/2021 layout: one annotation per athlete and
    video with a per-frame RLE (null where absent), areas and boxes."""
    paths = dataset_frame_paths(dataset_format, data_root)
    options["videos"] = list(options["videos"]) or None
    data = export_ytvis(store, frame_paths=paths, **options)
    write_coco(data, out)
    click.echo(
        f"wrote {len(data['videos']):,} videos and {len(data['annotations']):,} object tracks to {out}"
    )
