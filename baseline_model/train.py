"""Training Uni-FineParser: AMP, DDP (torchrun), gradient accumulation, checkpoints that resume exactly.

A run directory holds ``last.pt`` (written after every epoch: model, optimizer, scheduler, AMP
scaler, RNG states of every rank, epoch, history), ``best.pt`` (the epoch with the best test
Spearman rho, as the reference code selects), ``log.csv`` (one row per epoch), ``config.yaml``
and TensorBoard events under ``tb/``. A checkpoint records its config; resuming or evaluating
with a different one is refused, except for the fields in ``MAY_DIFFER`` (more epochs - the
cosine schedule then stretches to the new end -, other worker counts, a moved dataset).

Reproducibility: pairs, augmentations and batch order depend only on (seed, epoch, index), and
checkpoints carry the RNG state, so a resumed run continues the same loss trajectory as an
uninterrupted one. Learning rates: ``train.lr`` for the heads, times ``lr_backbone`` for the I3D,
``lr_sve`` for the ResNet34 and ``lr_tau`` for tau (Sec. 4.3); linear warm-up over
``warmup_epochs`` from ``warmup_lr`` (zero when unset) and cosine decay to ``lr_min`` over the
remaining epochs, every group, stepped per optimizer step (the reference: from 1e-4, to 1e-4, so
its I3D stays at 1e-4). A step that fp16 loss scaling skips does not advance the schedule.

The batch of one optimizer step is ``batch_size`` x processes x accumulated batches; with
``train.effective_batch`` set, the accumulation follows from it (16 = the reference's 2 per GPU x 4
GPUs x 2, or 2 x 1 GPU x 8).

Under torchrun (WORLD_SIZE > 1) every rank trains on its shard (gloo on CPU, nccl on GPU);
rank 0 evaluates, writes checkpoints and logs, and shares the test metrics with the others.
"""

from __future__ import annotations

import csv
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from baseline_model.amp import amp_dtype, autocast, needs_scaler
from baseline_model.config import Config, config_from_dict
from baseline_model.data import Splits
from baseline_model.evaluate import evaluate
from baseline_model.losses import compute_loss
from baseline_model.metrics import spearman
from hm_annotate.errors import HMError
from hm_annotate.torch_files import UnreadableTorchFile, load_torch_file

CHECKPOINT_FORMAT = "hm-baseline-checkpoint"
CHECKPOINT_VERSION = 1
# config fields a resumed run may change: they do not alter what one epoch computes
MAY_DIFFER = frozenset({"train.epochs", "train.num_workers", "train.eval_batch_size", "data.data_root",
                        "model.sve_weights_required"})
LOSS_KEYS = ("L_A", "L_T", "L_E", "total")
LOG_FIELDS = ("epoch", "step", "lr", *LOSS_KEYS, "train_rho", "rho", "rl2", "tiou", "attention_iou",
              "seconds")


class CheckpointError(HMError):
    """A checkpoint that is missing, damaged, or made with another configuration."""


class TrainError(HMError):
    """A training run that cannot start as asked (device, pretrained weights)."""


# ----------------------------------------------------------------------------- distributed context


@dataclass
class Dist:
    """Where this process trains: its rank among ``world`` processes and its device."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if self.world == 1:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.owns_group:
            torch.distributed.destroy_process_group()


def resolve_device(device: str | None, local_rank: int = 0) -> torch.device:
    """The device a process trains on: ``cuda`` without an index means this local rank's GPU.

    None picks that GPU when CUDA is available, else the CPU. A GPU index the machine lacks (e.g.
    more processes per node than GPUs) raises TrainError.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type != "cuda":
        return dev
    if not torch.cuda.is_available():
        raise TrainError(f"device {device}: CUDA is not available here (use device 'cpu')")
    if dev.index is None:
        dev = torch.device("cuda", local_rank)
    count = torch.cuda.device_count()
    if dev.index >= count:
        raise TrainError(f"process {local_rank} of this node needs cuda:{dev.index} but the machine has "
                         f"{count} GPU(s): run at most {count} process(es) per node (torchrun "
                         f"--nproc_per_node {count}) or train on device 'cpu'")
    return dev


def setup_distributed(device: str | None = None) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1; pick the device (:func:`resolve_device`)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest kernels
    owns = False
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        owns = True
    rank = torch.distributed.get_rank() if world > 1 else 0
    return Dist(rank=rank, world=world, device=dev, owns_group=owns)


# ----------------------------------------------------------------------------- model and optimizer


def build_model(cfg: Config, load_weights: bool = True) -> nn.Module:
    """The UniFineParser of ``cfg.model``, with pretrained weights when named (and when asked).

    The I3D weights' input normalisation must match ``data.normalisation``: a model_rgb.pth
    backbone fed [-1, 1] inputs trains, but on the wrong inputs.
    """
    from baseline_model.models.uni_fineparser import UniFineParser
    from baseline_model.weights import BackboneWeightsError, load_i3d_weights, load_resnet34_weights

    if load_weights and cfg.model.sve and cfg.model.sve_weights_required and not cfg.model.sve_weights:
        raise TrainError("this config starts the ResNet34 (SVE) from ImageNet weights, as the reference "
                         "does (model.sve_weights_required): set model.sve_weights, or "
                         "model.sve_weights_required: false to train it from random weights")
    model = UniFineParser(cfg.model)
    if load_weights and cfg.model.i3d_weights:
        expects = load_i3d_weights(model, cfg.model.i3d_weights)
        if expects != cfg.data.normalisation:
            raise BackboneWeightsError(
                f"{cfg.model.i3d_weights}: these I3D weights expect {expects!r} inputs but "
                f"data.normalisation is {cfg.data.normalisation!r}")
    if load_weights and cfg.model.sve_weights and model.sve is not None:
        load_resnet34_weights(model, cfg.model.sve_weights)
    return model


def make_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """Adam/AdamW/SGD over the four learning-rate groups of Sec. 4.3."""
    t = cfg.train
    rates = {"i3d": t.lr * t.lr_backbone, "sve": t.lr * t.lr_sve, "tau": t.lr * t.lr_tau, "head": t.lr}
    groups = [{"params": params, "lr": rates[name], "name": name}
              for name, params in model.parameter_groups().items() if params]
    if t.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=t.lr, momentum=0.9, weight_decay=t.weight_decay)
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=t.lr, weight_decay=t.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: Config,
                   steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per group: linear warm-up from ``warmup_lr`` (or zero) to the group's rate over ``warmup_epochs``,
    then cosine decay to ``lr_min`` at the last step. A group whose rate is zero stays frozen.
    """
    t = cfg.train
    warmup = t.warmup_epochs * steps_per_epoch
    total = max(t.epochs * steps_per_epoch, warmup + 1)
    start = t.warmup_lr or 0.0

    def schedule(base: float):
        def factor(step: int) -> float:
            if base == 0:
                return 0.0
            if step < warmup:
                return (start + (base - start) * (step + 1) / warmup) / base
            cosine = 0.5 * (1 + math.cos(math.pi * min(step - warmup, total - warmup) / (total - warmup)))
            return (t.lr_min + (base - t.lr_min) * cosine) / base
        return factor

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [schedule(g["lr"]) for g in optimizer.param_groups])


# ----------------------------------------------------------------------------- checkpoints


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved vs current`` for every config field that differs and may not.

    The saved config is read back first, so keys added since it was written take their defaults
    (which keep the old behaviour) and ``amp: false`` equals ``amp: off``.
    """
    try:
        saved = config_from_dict(saved, source="checkpoint").to_dict()
    except HMError:
        pass  # compared as written: every unreadable field shows up as a difference
    a, b = _flatten(saved), _flatten(current)
    return [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if k not in MAY_DIFFER and a.get(k) != b.get(k)]


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, checked to be one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        ckpt = load_torch_file(path)
    except UnreadableTorchFile as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc.reason})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an hm-baseline checkpoint")
    if ckpt.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt['version']} is newer than this trainer")
    return ckpt


def checkpoint_config(path: str | Path) -> Config:
    """The configuration a checkpoint was trained with."""
    return config_from_dict(read_checkpoint(path)["config"], source=str(path))


def check_config(ckpt: dict[str, Any], cfg: Config, path: str | Path) -> None:
    """Refuse a checkpoint made with another configuration, naming the differing fields."""
    diffs = config_differences(ckpt["config"], cfg.to_dict())
    if diffs:
        shown = "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")
        raise CheckpointError(f"{path}: made with another config (checkpoint vs now: {shown})")


def load_model(path: str | Path,
               device: torch.device | str = "cpu") -> tuple[nn.Module, Config, dict[str, Any]]:
    """(model with the checkpoint's weights, its config, the checkpoint) for evaluation."""
    ckpt = read_checkpoint(path)
    cfg = config_from_dict(ckpt["config"], source=str(path))
    model = build_model(cfg, load_weights=False)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model of its config ({exc})") from exc
    return model.to(device), cfg, ckpt


def _save(obj: dict[str, Any], path: Path) -> None:
    """Write atomically: a killed job never leaves a half-written checkpoint in place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ----------------------------------------------------------------------------- logs


class RunLog:
    """log.csv (rewritten from the history on resume, so it always matches last.pt) and TensorBoard."""

    def __init__(self, out: Path, history: list[dict[str, Any]], step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.csv_path = out / "log.csv"
        with self.csv_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(history)
        self.tb = SummaryWriter(str(out / "tb"), purge_step=step if history else None)

    def step(self, step: int, losses: dict[str, float], lr: float) -> None:
        for k, v in losses.items():
            self.tb.add_scalar(f"train_step/{k}", v, step)
        self.tb.add_scalar("train_step/lr", lr, step)

    def epoch(self, row: dict[str, Any]) -> None:
        with self.csv_path.open("a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)
        for k in (*LOSS_KEYS, "train_rho"):
            self.tb.add_scalar(f"train/{k}", row[k], row["epoch"])
        for k in ("rho", "rl2", "tiou", "attention_iou"):
            self.tb.add_scalar(f"test/{k}", row[k], row["epoch"])
        self.tb.flush()

    def close(self) -> None:
        self.tb.close()


# ----------------------------------------------------------------------------- training


@dataclass
class RunResult:
    """What a training run produced: its directory, history, and best and last test metrics."""

    out_dir: Path
    epochs_done: int
    history: list[dict[str, Any]]
    best: dict[str, Any]
    last: dict[str, Any]


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def _predicted(delta: torch.Tensor, batch: dict[str, Any], dd: bool) -> torch.Tensor:
    """The query scores a batch of pairs predicts (Eq. 7; DD: rescaled by the query's difficulty)."""
    if dd:
        return batch["q_difficulty"] * (batch["e_score"] / batch["e_difficulty"] + delta)
    return batch["e_score"] + delta


@dataclass
class _Loop:
    """The objects one training run threads through its epochs."""

    cfg: Config
    dist: Dist
    net: nn.Module
    loader: torch.utils.data.DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    log: RunLog | None
    step: int
    accum: int
    amp: torch.dtype | None

    def optimizer_step(self) -> bool:
        """Step (unless fp16 loss scaling found inf/NaN gradients and skipped it); True when it stepped."""
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return scale is None or self.scaler.get_scale() >= scale

    def epoch(self, epoch: int, progress: bool) -> tuple[list[float], list[float], list[float], int]:
        """One pass over this rank's shard: (loss sums, predictions, true scores, pairs seen)."""
        from tqdm import tqdm

        cfg, accum, n = self.cfg, self.accum, len(self.loader)
        dd = cfg.data.exemplar_mode == "dd"
        self.net.train()
        sums = np.zeros(len(LOSS_KEYS))
        preds: list[float] = []
        trues: list[float] = []
        self.optimizer.zero_grad(set_to_none=True)
        bar = tqdm(self.loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", unit="batch", leave=False,
                   disable=(None if progress else True) if self.dist.main else True)
        for i, batch in enumerate(bar):
            batch = _to_device(batch, self.dist.device)
            group_size = min(accum, n - (i - i % accum))  # the last group may be short
            sync = i % accum == group_size - 1
            with self.net.no_sync() if self.dist.world > 1 and not sync else nullcontext():
                with autocast(self.dist.device, self.amp):
                    outputs = self.net(batch["q_video"], batch["e_video"], batch.get("q_mask"),
                                       batch.get("e_mask"))
                outputs = {k: v.float() for k, v in outputs.items()}
                losses = compute_loss(outputs, batch, cfg)
                self.scaler.scale(losses["total"] / group_size).backward()
            values = [losses[k].item() for k in LOSS_KEYS]
            sums += np.array(values) * len(batch["q_score"])
            preds += _predicted(outputs["delta"].detach(), batch, dd).tolist()
            trues += batch["q_score"].tolist()
            if sync:
                if self.optimizer_step():
                    self.scheduler.step()
                self.step += 1
                if self.log is not None:
                    lr = self.optimizer.param_groups[-1]["lr"]
                    self.log.step(self.step, dict(zip(LOSS_KEYS, values)), lr)
            bar.set_postfix(loss=f"{values[-1]:.3f}")
        return sums.tolist(), preds, trues, len(trues)


def train(cfg: Config, splits: Splits, out_dir: str | Path, *, resume: bool = False,
          stop_after_epoch: int | None = None, device: str | None = None, progress: bool = True) -> RunResult:
    """Train on ``splits.train``, evaluate on ``splits.test`` after every epoch, checkpoint into ``out_dir``.

    ``resume`` continues from ``out_dir/last.pt`` (same config, except ``MAY_DIFFER``);
    ``stop_after_epoch`` ends this invocation after that epoch (split a long run into jobs).
    Under torchrun call it on every rank.
    """
    out = Path(out_dir)
    dist = setup_distributed(device)
    try:
        return _train(cfg, splits, out, dist, resume, stop_after_epoch, progress)
    finally:
        dist.close()


def _train(cfg: Config, splits: Splits, out: Path, dist: Dist, resume: bool, stop_after_epoch: int | None,
           progress: bool) -> RunResult:
    last_path = out / "last.pt"
    ckpt = None
    if resume:
        ckpt = read_checkpoint(last_path)
        check_config(ckpt, cfg, last_path)
    elif last_path.exists():
        raise CheckpointError(f"{out}: holds a run already (last.pt); resume it or choose another output")
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, load_weights=ckpt is None).to(dist.device)  # bad weights: nothing written yet
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(cfg, out / "config.yaml")
    optimizer = make_optimizer(model, cfg)
    sampler = torch.utils.data.DistributedSampler(splits.train, num_replicas=dist.world, rank=dist.rank,
                                                  shuffle=True, seed=cfg.train.seed)
    loader = torch.utils.data.DataLoader(splits.train, batch_size=cfg.train.batch_size, sampler=sampler,
                                         num_workers=cfg.train.num_workers,
                                         pin_memory=dist.device.type == "cuda")
    accum = cfg.train.accumulation(dist.world)
    scheduler = make_scheduler(optimizer, cfg, math.ceil(len(loader) / accum))
    amp = amp_dtype(cfg.train.amp, dist.device)
    scaler = torch.amp.GradScaler("cuda", enabled=needs_scaler(amp))

    start, step, history, best = 0, 0, [], {"epoch": 0}  # best: metrics of the best epoch so far
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        rng = ckpt["rng"]
        _set_rng_state(rng[dist.rank] if len(rng) == dist.world else rng[0], dist.device)
        start, step, history, best = ckpt["epoch"], ckpt["step"], ckpt["history"], ckpt["best"]
    else:
        torch.manual_seed(cfg.train.seed + dist.rank)
    net: nn.Module = model
    if dist.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dist.device.index] if dist.device.type == "cuda" else None)
    loop = _Loop(cfg, dist, net, loader, optimizer, scheduler, scaler,
                 RunLog(out, history, step) if dist.main else None, step, accum, amp)
    end = cfg.train.epochs if stop_after_epoch is None else min(cfg.train.epochs, stop_after_epoch)
    try:
        for epoch in range(start, end):
            t0 = time.time()
            sampler.set_epoch(epoch)
            splits.train.set_epoch(epoch)
            parts = dist.gather(loop.epoch(epoch, progress))
            sums = np.sum([p[0] for p in parts], axis=0) / max(sum(p[3] for p in parts), 1)
            train_rho = _train_rho([x for p in parts for x in p[1]], [x for p in parts for x in p[2]])
            metrics = None
            if dist.main:
                metrics = evaluate(model, splits.test, cfg, device=dist.device, amp=amp,
                                   num_workers=cfg.train.num_workers, progress=progress).metrics()
            metrics = dist.broadcast(metrics)
            row = {"epoch": epoch + 1, "step": loop.step, "lr": optimizer.param_groups[-1]["lr"],
                   **dict(zip(LOSS_KEYS, sums.tolist())), "train_rho": train_rho, **metrics,
                   "seconds": round(time.time() - t0, 3)}
            history.append(row)
            improved = not math.isnan(row["rho"]) and row["rho"] > best.get("rho", -math.inf)
            if improved:
                best = {**metrics, "epoch": epoch + 1}
            rng = dist.gather(_rng_state(dist.device))
            if dist.main:
                state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": cfg.to_dict(),
                         "epoch": epoch + 1, "step": loop.step, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "scaler": scaler.state_dict(), "rng": rng, "history": history, "best": best,
                         "metrics": metrics}
                _save(state, last_path)
                if improved:
                    _save(state, out / "best.pt")
                loop.log.epoch(row)
    finally:
        if loop.log is not None:
            loop.log.close()
    return RunResult(out_dir=out, epochs_done=len(history), history=history, best=best,
                     last=history[-1] if history else {})


def _train_rho(pred: list[float], true: list[float]) -> float:
    """Spearman rho of the training pairs' predictions (NaN when undefined), to watch fitting."""
    if len(pred) < 2 or np.ptp(pred) == 0 or np.ptp(true) == 0:
        return math.nan
    return spearman(pred, true)


def _write_config(cfg: Config, path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
