"""``hm-baseline``: parameter summary, training, evaluation and the GTM / PM / no-mask comparison.

A thin layer over the library: options override the config file, the library does the work and
raises; only this module prints. Errors become one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import click

from hm_annotate.cli.run import run_cli

LAYERS = ("corrected", "pseudo", "curated")


def _common_data(fn):
    """--dataset-format / --data-root / --masks / --layer / --allow-missing-masks."""
    options = [
        click.option("--dataset-format", help="Dataset adapter (finediving, mtl-aqa, aqa7, videos); "
                                              "default: data.dataset of the config."),
        click.option("--data-root", type=click.Path(exists=True, file_okay=False),
                     help="Dataset root; default: data.data_root of the config."),
        click.option("--masks", "mask_store", type=click.Path(exists=True, dir_okay=False),
                     help="Mask store (HDF5) to supervise / score the attention with."),
        click.option("--layer", type=click.Choice(LAYERS), help="Mask layer (default: the config's)."),
        click.option("--allow-missing-masks", is_flag=True,
                     help="Use empty masks where the store has none (with a warning) instead of failing."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _runtime(fn):
    """--device / --threads / --quiet."""
    options = [
        click.option("--device", help="cpu, cuda (this process's GPU under torchrun) or cuda:N "
                                      "(default: cuda when available)."),
        click.option("--threads", type=click.IntRange(min=1),
                     help="Torch CPU threads (on busy shared cores, 1 is often fastest)."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _train_overrides(fn):
    """Config overrides for the train section."""
    options = [
        click.option("--epochs", type=click.IntRange(min=1), help="Override train.epochs."),
        click.option("--batch-size", type=click.IntRange(min=1), help="Override train.batch_size."),
        click.option("--lr", type=click.FloatRange(min=0), help="Override train.lr."),
        click.option("--seed", type=int, help="Override train.seed."),
        click.option("--num-workers", type=click.IntRange(min=0), help="Override train.num_workers."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _with(cfg: Any, section: str, **values: Any) -> Any:
    """``cfg`` with the non-None ``values`` set in ``section`` (validated by the config classes)."""
    from baseline_model.config import Config

    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return cfg
    parts = {"model": cfg.model, "data": cfg.data, "train": cfg.train}
    parts[section] = dataclasses.replace(parts[section], **values)
    return Config(**parts)


def _data_overrides(cfg: Any, opts: dict[str, Any]) -> Any:
    """Command-line data choices over the config; a run without a store records ``use_masks: false``."""
    cfg = _with(cfg, "data", dataset=opts["dataset_format"], data_root=opts["data_root"],
                mask_store=opts["mask_store"], mask_layer=opts["layer"])
    use = bool(opts["mask_store"]) or (cfg.data.use_masks and bool(cfg.data.mask_store))
    return _with(cfg, "data", use_masks=use)


def _train_section(cfg: Any, opts: dict[str, Any]) -> Any:
    """``--epochs`` and friends over the config's train section."""
    return _with(cfg, "train", **{k: opts[k] for k in ("epochs", "batch_size", "lr", "seed", "num_workers")})


def _setup_torch(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _splits(cfg: Any, opts: dict[str, Any], main_process: bool = True, test_only: bool = False) -> Any:
    """The run's pair datasets; the main process shows progress and warns about missing masks."""
    from baseline_model.data import build_splits, load_dataset, mask_source

    train_videos, test_videos = load_dataset(cfg.data)
    splits = build_splits(train_videos, test_videos, cfg.data, seed=cfg.train.seed,
                          masks=mask_source(cfg.data, opts["allow_missing_masks"]),
                          progress=main_process and not opts["quiet"], test_only=test_only)
    if main_process:
        _warn_missing(splits)
    return splits


def _warn_missing(splits: Any) -> None:
    if splits.masks is not None and splits.masks.missing:
        frames = sum(splits.masks.missing.values())
        click.echo(f"warning: {len(splits.masks.missing)} video(s), {frames} frame(s) without masks in "
                   f"{splits.masks.path} (layer {splits.masks.layer}); empty masks used there", err=True)


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Uni-FineParser baseline: what human-centric masks are worth for action quality assessment."""


@cli.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (components, total_params, ...).")
def summary(config_path: str, as_json: bool) -> None:
    """Parameters per component and in total (the paper reports 35.94M)."""
    from baseline_model.config import load_config
    from baseline_model.models.uni_fineparser import UniFineParser
    from baseline_model.summary import parameter_summary

    counts = parameter_summary(UniFineParser(load_config(config_path).model))
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    width = max(len(k) for k in counts)
    for name, n in counts.items():
        click.echo(f"{name:<{width}}  {n:>13,}  ({n / 1e6:.2f}M)")


@cli.command("train")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), required=True)
@_common_data
@click.option("--i3d-weights", type=click.Path(exists=True, dir_okay=False),
              help="Pretrained I3D (model_rgb.pth, piergiaj rgb_imagenet.pt, or a FineParser best.pth).")
@click.option("--resnet34-weights", type=click.Path(exists=True, dir_okay=False),
              help="torchvision ResNet34 ImageNet state dict.")
@click.option("--allow-random-sve", is_flag=True,
              help="Train the ResNet34 from random weights where the config requires pretrained ones.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt.")
@click.option("--stop-after-epoch", type=click.IntRange(min=1), help="End this job after that epoch.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@_train_overrides
@_runtime
def train_command(config_path: str, out: str, **opts: Any) -> None:
    """Train on the train split, evaluate on the test split every epoch; best.pt / last.pt in OUT.

    Under torchrun (--nproc_per_node N) every process trains on its share (DDP).
    """
    import os

    from baseline_model.config import load_config
    from baseline_model.train import train

    _setup_torch(opts["threads"])
    cfg = _data_overrides(load_config(config_path), opts)
    cfg = _with(cfg, "model", i3d_weights=opts["i3d_weights"], sve_weights=opts["resnet34_weights"],
                sve_weights_required=False if opts["allow_random_sve"] else None)
    cfg = _train_section(cfg, opts)
    if cfg.model.sve and cfg.model.sve_weights_required and not cfg.model.sve_weights:
        raise click.UsageError("this config starts the ResNet34 (SVE) from ImageNet weights, as the "
                               "reference does: give --resnet34-weights, or --allow-random-sve to train "
                               "it from random weights")
    main_rank = os.environ.get("RANK", "0") == "0"
    progress = not opts["quiet"]
    splits = _splits(cfg, opts, main_rank)
    result = train(cfg, splits, out, resume=opts["resume"], stop_after_epoch=opts["stop_after_epoch"],
                   device=opts["device"], progress=progress)
    if main_rank and result.history:
        last, best = result.last, result.best
        click.echo(f"{out}: {result.epochs_done}/{cfg.train.epochs} epochs; last rho {_fmt(last['rho'])} "
                   f"R-l2 {_fmt(last['rl2'])}; best rho {_fmt(best.get('rho'))} "
                   f"R-l2 {_fmt(best.get('rl2'))} at epoch {best.get('epoch')}")


@cli.command("eval")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False))
@_common_data
@click.option("--json", "as_json", is_flag=True, help="Print metrics and per-video predictions as JSON.")
@_runtime
def eval_command(checkpoint: str, as_json: bool, **opts: Any) -> None:
    """Vote over M exemplars for every test video; rho, R-l2 (x100), step tIoU, attention IoU."""
    from baseline_model.amp import amp_dtype
    from baseline_model.evaluate import evaluate
    from baseline_model.train import load_model, resolve_device

    _setup_torch(opts["threads"])
    dev = resolve_device(opts["device"])
    model, cfg, ckpt = load_model(checkpoint, dev)
    cfg = _data_overrides(cfg, opts)
    splits = _splits(cfg, opts, test_only=True)
    result = evaluate(model, splits.test, cfg, device=dev, amp=amp_dtype(cfg.train.amp, dev),
                      progress=not opts["quiet"])
    metrics = {k: (None if math.isnan(v) else v) for k, v in result.metrics().items()}
    if as_json:
        click.echo(json.dumps({"checkpoint": checkpoint, "epoch": ckpt["epoch"], "videos": len(result.ids),
                               "exemplars": cfg.data.num_exemplars_vote, **metrics,
                               "predictions": [{"id": i, "true": t, "pred": p}
                                               for i, t, p in zip(result.ids, result.true, result.pred)]},
                              indent=2))
        return
    click.echo(f"{checkpoint} (epoch {ckpt['epoch']}), {len(result.ids)} test videos, "
               f"M = {cfg.data.num_exemplars_vote}: rho {_fmt(result.rho)}  R-l2 {_fmt(result.rl2)}  "
               f"tIoU {_fmt(result.tiou)}  attention IoU {_fmt(result.attention_iou)}")


@cli.command("compare")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--dataset-format", help="Dataset adapter; default: data.dataset of the config.")
@click.option("--data-root", type=click.Path(exists=True, file_okay=False), help="Dataset root.")
@click.option("--gtm", required=True, type=click.Path(exists=True, dir_okay=False), help="GTM store.")
@click.option("--pm", required=True, type=click.Path(exists=True, dir_okay=False), help="Pseudo mask store.")
@click.option("--gtm-layer", type=click.Choice(LAYERS), default="corrected", show_default=True)
@click.option("--pm-layer", type=click.Choice(LAYERS), default="pseudo", show_default=True)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs trained at once, in processes of one torch thread each.")
@click.option("--allow-missing-masks", is_flag=True, help="Empty masks where a store has none.")
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False),
              help="Where the runs go (default: next to --out, else ./compare-runs); re-running resumes.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the table (markdown) here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write every run's metrics.")
@_train_overrides
@_runtime
def compare_command(config_path: str, out: str | None, json_path: str | None, runs_dir: str | None,
                    **opts: Any) -> None:
    """Train GTM, PM and no-mask runs under identical settings; print a Table-14-style table."""
    from baseline_model.compare import compare, default_conditions, summary
    from baseline_model.config import load_config
    from baseline_model.data import load_dataset

    _setup_torch(opts["threads"])
    cfg = _data_overrides(load_config(config_path), {**opts, "mask_store": None, "layer": None})
    cfg = _train_section(cfg, opts)
    runs = Path(runs_dir) if runs_dir else (Path(out).with_suffix("") if out else Path("compare-runs"))
    train_videos, test_videos = load_dataset(cfg.data)
    conditions = default_conditions(opts["gtm"], opts["pm"], opts["gtm_layer"], opts["pm_layer"])
    result = compare(cfg, train_videos, test_videos, conditions, runs, seeds=opts["seeds"], jobs=opts["jobs"],
                     allow_missing=opts["allow_missing_masks"], device=opts["device"],
                     progress=not opts["quiet"])
    table = result.table()
    if out:
        Path(out).write_text(table)
    if json_path:
        Path(json_path).write_text(json.dumps(summary(result), indent=2, default=float))
    click.echo(table, nl=False)
    verdicts = [f"{which} epoch {result.verdict('rho', which)}" for which in ("best", "last")]
    click.echo(f"GTM > PM > no masks by mean rho: {'; '.join(verdicts)}")


@cli.command("degrade-masks")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Store to write.")
@click.option("--src-layer", type=click.Choice(LAYERS), default="corrected", show_default=True)
@click.option("--layer", type=click.Choice(("pseudo", "corrected")), default="pseudo", show_default=True,
              help="Layer to write.")
@click.option("--max-radius", type=click.IntRange(min=0), default=2, show_default=True,
              help="Largest dilation / erosion, pixels.")
@click.option("--max-shift", type=click.IntRange(min=0), default=2, show_default=True,
              help="Largest drift, pixels.")
@click.option("--drop", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of frames that lose the athlete.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def degrade_command(src: str, out: str, src_layer: str, layer: str, max_radius: int, max_shift: int,
                    drop: float, seed: int, quiet: bool) -> None:
    """Make stand-in pseudo masks from SRC's masks: grown/shrunk, drifting, some frames lost."""
    from baseline_model.degrade import Degradation, degrade_store

    stats = degrade_store(src, out, Degradation(max_radius, max_shift, drop, seed=seed), src_layer=src_layer,
                          dst_layer=layer, progress=not quiet)
    click.echo(f"{out}: {stats['videos']} videos, {stats['frames']} frames in layer {layer}; mean IoU with "
               f"{src_layer} {stats['mean_iou']:.3f}, {stats['lost_frames']} frames lost")


def main(argv: list[str] | None = None) -> None:
    """Entry point: library errors become one line on stderr and exit status 1."""
    run_cli(cli, "hm-baseline", argv)


if __name__ == "__main__":
    main()
