"""``hm-annotate review``: the frames most likely wrong, worst first, as a correction queue."""

from __future__ import annotations

import click

from hm_annotate.cli.options import layer_option, videos_option


@click.command("review")
@click.argument("store", type=click.Path(dir_okay=False))
@layer_option("pseudo")
@click.option("--top", default=None, type=click.IntRange(min=1), metavar="N",
              help="Keep the N worst frames (default: all).")
@click.option("--out", default=None, type=click.Path(dir_okay=False), metavar="QUEUE.csv",
              help="Write the queue as CSV (video_id,frame,priority,reasons,...); else print it.")
@videos_option()
@click.option("--components/--no-components", default=True, show_default=True,
              help="Count connected components (decodes masks; the only signal that does).")
@click.option("--include-corrected", is_flag=True,
              help="Also rank pseudo frames that already have a corrected mask.")
def command(
    store: str,
    layer: str,
    top: int | None,
    out: str | None,
    videos: tuple[str, ...],
    components: bool,
    include_corrected: bool,
) -> None:
    """Rank STORE's frames by how likely their mask is wrong: empty, low segmenter score, IoU drop
    against the neighbouring frames, area jump, several connected components, touching the image
    border. Each row says why. `export-coco --frames-from QUEUE.csv` exports just those frames.
    """
    from hm_annotate.reporting import Reporter
    from hm_annotate.review import review_queue, write_queue

    queue = review_queue(
        store, layer, top=top, videos=list(videos) or None, components=components,
        skip_corrected=not include_corrected, reporter=Reporter(progress=None, echo=True),
    )
    if queue.empty:
        click.echo("no frames to rank" + ("" if include_corrected or layer != "pseudo" else
                   " (every pseudo frame has a corrected mask; --include-corrected ranks them too)"),
                   err=True)  # fmt: skip
    if out:
        write_queue(queue, out)
        flagged = int((queue["reasons"] != "").sum())
        click.echo(f"wrote {len(queue):,} frames ({flagged:,} with a reason) to {out}", err=True)
        return
    for row in queue.itertuples():
        click.echo(f"{row.priority:7.3f}  {row.video_id}  {row.frame}  {row.reasons}")
