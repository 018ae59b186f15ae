"""``hm-annotate pseudo-label``: pseudo masks (PM) for every frame of every video of a dataset."""

from __future__ import annotations

import sys

import click

from hm_annotate.cli.options import checked_by, dataset_options, dataset_videos, excludes, videos_option


@click.command("pseudo-label")
@dataset_options(root_required=True, note="Default: the pipeline's.")
@click.option(
    "--out",
    required=True,
    metavar="STORE",
    help="Mask store to write (layer 'pseudo'); {shard} becomes the shard number.",
)
@click.option(
    "--pipeline",
    metavar="YAML",
    help="Pipeline YAML or shipped name (default: <format>-hm, else synthetic-demo).",
)
@click.option("--segmenter", metavar="NAME", help="sam or grabcut (or an installed plug-in).")
@click.option("--sam-model", type=click.Choice(["vit_h", "vit_l", "vit_b"]), help="SAM architecture.")
@click.option(
    "--sam-checkpoint", type=click.Path(dir_okay=False), help="SAM checkpoint (default: weights cache)."
)
@click.option("--tracker", metavar="NAME", help="csrt, kcf, mil or mask-flow (or an installed plug-in).")
@click.option("--prompts", type=click.Path(dir_okay=False), help="Prompt boxes, CSV or JSON.")
@click.option(
    "--detector", metavar="NAME", help="motion, hog or none: finds athletes no prompt places, and lost ones."
)
@videos_option("video_ids")
@click.option(
    "--split", type=click.Choice(["train", "test", "all"]), help="Dataset split (default: the pipeline's)."
)
@click.option(
    "--shard",
    metavar="K/N",
    callback=checked_by("hm_annotate.pseudo.shards:parse_shard"),
    help="The K-th of N disjoint parts (default: RANK/WORLD_SIZE if set).",
)
@click.option("--resume", is_flag=True, callback=excludes("overwrite"),
              help="Keep videos the store already has; label the rest.")
@click.option("--overwrite", is_flag=True, callback=excludes("resume"),
              help="Redo videos the store already has.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where SAM runs.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Frames per batch through the image encoder.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(
    dataset_format: str | None,
    data_root: str,
    out: str,
    pipeline: str | None,
    segmenter: str | None,
    sam_model: str | None,
    sam_checkpoint: str | None,
    tracker: str | None,
    prompts: str | None,
    detector: str | None,
    video_ids: tuple[str, ...],
    split: str | None,
    shard: str | None,
    resume: bool,
    overwrite: bool,
    device: str | None,
    batch_size: int | None,
    quiet: bool,
) -> None:
    """Make pseudo masks for every frame of every video: a tracker carries each athlete's box
    from frame to frame and a segmenter (SAM, or GrabCut without weights) turns boxes into
    masks. Labelling starts at a video's first --prompts box, or, without prompts, where a
    --detector scan of the whole video finds the athletes clearest, and runs forwards and then
    backwards from there. Each finished video is committed at once,
    so an interrupted run continues with --resume. Exits 1 if any video failed (the others are
    still labelled).
    """
    from hm_annotate.pseudo import config as cfg
    from hm_annotate.pseudo import prompts as prompt_files
    from hm_annotate.pseudo import shards
    from hm_annotate.pseudo.pipeline import Components, PipelineError, run
    from hm_annotate.reporting import Reporter

    config = cfg.load_pipeline(pipeline or cfg.default_pipeline(dataset_format))
    config = cfg.with_overrides(
        config,
        dataset_format=dataset_format,
        split=split,
        segmenter=segmenter,
        sam_model=sam_model,
        sam_checkpoint=sam_checkpoint,
        tracker=tracker,
        detector=detector,
        prompts=prompts,
        device=device,
        batch_size=batch_size,
    )
    if config.dataset_format is None:
        raise click.UsageError(f"pipeline {config.name!r} names no dataset format: pass --dataset-format")
    part, out = shards.resolve(shard, out)
    reporter = Reporter(progress=None if not quiet else False, echo=True)
    videos = dataset_videos(config.dataset_format, data_root, list(video_ids) or None, split=config.split)
    chosen = shards.select(videos, part) if part is not None else videos
    prompt_set = None
    if config.prompts:
        whole = not video_ids and config.split == "all"  # then ``videos`` is the whole dataset
        prompt_set = prompt_files.check_for(
            config.prompts,
            chosen,
            dataset_format=config.dataset_format,
            data_root=data_root,
            dataset=videos if whole else None,
        )
    where = f" (shard {part[0]}/{part[1]})" if part is not None else ""
    click.echo(
        f"pipeline {config.name}: {config.segmenter.name} + {config.tracker.name}, "
        f"{len(chosen)} videos{where} -> {out}",
        err=True,
    )
    try:
        parts = Components.build(config, prompt_set)
        report = run(chosen, out, parts, resume=resume, overwrite=overwrite, reporter=reporter)
    except PipelineError as exc:  # the store already has some of these videos: an option mistake
        raise click.UsageError(f"{exc} (--resume / --overwrite)") from None
    click.echo(
        f"labelled {len(report.labelled)} videos, kept {len(report.skipped)} already done, "
        f"{len(report.failed)} failed; {report.timings.summary()}",
        err=True,
    )
    if report.failed:
        sys.exit(1)
