"""``hm-annotate synth``: a synthetic dataset in the exact FineDiving on-disk format."""

from __future__ import annotations

import json

import click


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--videos", type=click.IntRange(min=1), required=True, help="Number of clips.")
@click.option("--seed", type=int, required=True, help="Seed: the same seed gives the same dataset.")
@click.option("--sync-fraction", type=click.FloatRange(0.0, 1.0), default=0.2, show_default=True,
              help="Share of clips from synchronised events (two athletes).")  # fmt: skip
@click.option("--height", type=click.IntRange(min=64), default=256, show_default=True,
              help="Frame height in pixels (width 16:9).")  # fmt: skip
@click.option("--frames", type=click.IntRange(min=24), default=104, show_default=True,
              help="Typical frames per clip (each clip varies by about 7%).")  # fmt: skip
@click.option("--hm-jpg", is_flag=True, help="Also write FineDiving-HM gray JPG masks.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (the output does not depend on it).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def command(
    out: str, videos: int, seed: int, sync_fraction: float, height: int, frames: int, hm_jpg: bool,
    workers: int, as_json: bool,
) -> None:  # fmt: skip
    """Render VIDEOS diving clips with exact athlete masks into OUT, in the FineDiving layout.

    OUT gets FINADiving_MTL_256s/ frames, gt_masks.h5 (layer "corrected"), Annotations/*.pkl
    (written last) and, with --hm-jpg, diving_mask_annotation_gray/. Re-running the same
    command on an interrupted OUT finishes it.
    """
    from hm_annotate.reporting import Reporter
    from hm_annotate.synth import generate

    summary = generate(
        out, videos=videos, seed=seed, sync_fraction=sync_fraction, height=height, frames=frames,
        hm_jpg=hm_jpg, workers=workers, reporter=Reporter(progress=None, echo=True),
    )  # fmt: skip
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['out']}: {summary['videos']} videos ({summary['sync_videos']} synchronised, "
        f"{summary['train']} train / {summary['test']} test), {summary['frames']:,} frames "
        f"{summary['width']}x{summary['height']}; rendered {summary['rendered']} in {summary['seconds']} s"
    )
