"""``hm-annotate render``: a video's masks overlaid on its frames, as mp4, gif or PNGs."""

from __future__ import annotations

import click

from hm_annotate.cli.options import dataset_options, dataset_videos, layer_option


@click.command("render")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--video", "video_id", required=True, metavar="ID", help="Video id, e.g. EVENT/INSTANCE.")
@click.option("--frames-root", default=None, type=click.Path(file_okay=False),
              help="Frames as <frames-root>/<video id>/<NNNNN>.jpg (FineDiving layout).")
@dataset_options(note="Frames are then read through it (instead of --frames-root).")
@click.option("--out", required=True, type=click.Path(), metavar="FILE.mp4|FILE.gif|DIR",
              help="An .mp4, a .gif, or a folder for one PNG per frame.")
@layer_option("curated")
@click.option("--compare-layers", is_flag=True, help="Pseudo (left) and corrected (right) side by side.")
@click.option("--fps", default=25.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Frames per second of mp4/gif.")
def command(
    store: str,
    video_id: str,
    frames_root: str | None,
    dataset_format: str | None,
    data_root: str | None,
    out: str,
    layer: str,
    compare_layers: bool,
    fps: float,
) -> None:
    """Overlay the masks of one video of STORE on its frames (each athlete in its own colour)."""
    from hm_annotate.render import folder_frames, render_video
    from hm_annotate.reporting import Reporter

    if (frames_root is None) == (dataset_format is None and data_root is None):
        raise click.UsageError("give either --frames-root or --dataset-format with --data-root")
    if frames_root is not None:
        read_frame = folder_frames(frames_root, video_id)
    else:
        read_frame = dataset_videos(dataset_format, data_root, [video_id])[0].read_frame
    n = render_video(
        store, video_id, out, read_frame=read_frame, layer=layer, compare_layers=compare_layers, fps=fps,
        reporter=Reporter(progress=None, echo=True),
    )
    click.echo(f"wrote {n:,} frames to {out}", err=True)
