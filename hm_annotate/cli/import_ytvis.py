"""``hm-annotate import-ytvis``: bring corrected masks from a YouTube-VIS file back into a store."""

from __future__ import annotations

from typing import Any

import click

from hm_annotate.cli.import_coco import import_options, run_import
from hm_annotate.io.ytvis import import_ytvis


@click.command("import-ytvis")
@click.argument("ytvis_file", type=click.Path(exists=True, dir_okay=False))
@import_options
def command(ytvis_file: str, store: str, **kwargs: Any) -> None:
    """Import the masks of YTVIS_FILE (YouTube-VIS 2019/2021) into LAYER of STORE, all or nothing.

    Every frame of a video's file_names is written (a frame where every annotation is null holds
    no athlete); other frames stay as they were. Annotations without object_id are matched to the
    current objects by IoU, frame by frame. Summary and checks as import-coco.
    """
    run_import(import_ytvis, ytvis_file, store, **kwargs)
