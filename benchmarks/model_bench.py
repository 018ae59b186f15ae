"""Uni-FineParser model figures: parameters per component and the time of one training step.

Prints, for each config given (default: synthetic_cpu.yaml), the parameter summary, the forward
FLOPs of one pair, and for every batch size and precision asked: the median time of forward + loss
+ backward + Adam step on random inputs of the config's shape, pairs/s, the ratio to float32 at the
same batch size (measured in the same run), the peak GPU memory, and whether every loss was finite
(when one was not, the modules whose outputs were not finite in that step, first ones first).
Precisions: fp32; bf16 (autocast, no loss scaling); fp16 (autocast + GradScaler). The model keeps
TAP and the regressor in float32 under autocast. On a CPU, autocast runs too (slowly).
On a shared machine use --threads 1: two OpenMP threads that wait for each other on busy cores
make small ops many times slower; the CPU time shows what the step costs on an idle core.
Usage: python benchmarks/model_bench.py [config.yaml ...] [--device cuda] [--batch 2 8]
       [--precision fp32 bf16 fp16] [--steps 5] [--threads N]
(--steps 0 prints the parameter and FLOP counts only)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from baseline_model.config import load_config
from baseline_model.losses import compute_loss
from baseline_model.models import build_model
from baseline_model.summary import parameter_summary
from baseline_model.train import resolve_device

CONFIGS = Path(__file__).resolve().parents[1] / "baseline_model" / "configs"


DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def random_batch(cfg, batch: int) -> dict[str, torch.Tensor]:
    d = cfg.data
    shape = (batch, 3, d.num_frames, d.image_size, d.image_size)
    mask_shape = (batch, 1, *shape[2:])
    third = d.num_frames // 3
    return {
        "q_video": torch.randn(shape), "e_video": torch.randn(shape),
        "q_mask": (torch.rand(mask_shape) > 0.7).float(), "e_mask": (torch.rand(mask_shape) > 0.7).float(),
        "q_score": torch.rand(batch) * 100, "e_score": torch.rand(batch) * 100,
        "q_transitions": torch.tensor([[third, 2 * third]] * batch),
        "e_transitions": torch.tensor([[third + 1, 2 * third - 1]] * batch),
        "q_difficulty": torch.full((batch,), 3.0), "e_difficulty": torch.full((batch,), 3.0),
    }


def forward_gflops(cfg) -> float:
    """FLOPs (2 per multiply-add) of one query/exemplar forward pass, counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    from baseline_model.models import UniFineParser

    d = cfg.data
    with torch.device("meta"):
        model = UniFineParser(cfg.model).eval()
        video = torch.empty(1, 3, d.num_frames, d.image_size, d.image_size)
    counter = FlopCounterMode(display=False)
    with counter:
        model(video, video)
    return counter.get_total_flops() / 1e9


@contextmanager
def nonfinite_outputs(model: torch.nn.Module):
    """Collect, in call order, the names of modules whose tensor output holds inf or NaN."""
    found: list[str] = []

    def hook(name):
        def check(_module, _inputs, output):
            tensors = output if isinstance(output, (tuple, list)) else (output,)
            if name not in found and any(isinstance(t, torch.Tensor) and t.is_floating_point()
                                         and not torch.isfinite(t).all() for t in tensors):
                found.append(name)
        return check

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        yield found
    finally:
        for h in handles:
            h.remove()


def time_steps(cfg, device: torch.device, batch_size: int, precision: str, steps: int) -> dict:
    """Train ``steps`` + 1 steps (the first is warm-up) from the same initial weights; figures of the rest."""
    from baseline_model.amp import autocast
    from baseline_model.train import make_optimizer

    torch.manual_seed(0)
    model = build_model(cfg.model).to(device).train()
    optimizer = make_optimizer(model, cfg)
    dtype = DTYPES[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    batch = {k: v.to(device) for k, v in random_batch(cfg, batch_size).items()}
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    times, cpu, losses, culprits, skipped = [], [], [], [], 0
    for _ in range(steps + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        with nonfinite_outputs(model) as bad:
            with autocast(device, dtype):
                out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
            loss = compute_loss({k: v.float() for k, v in out.items()}, batch, cfg)["total"]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scale = scaler.get_scale() if scaler.is_enabled() else None
            scaler.step(optimizer)
            scaler.update()
            skipped += scale is not None and scaler.get_scale() < scale
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        losses.append(loss.item())
        culprits += [n for n in bad if n not in culprits]
    timed = times[1:]
    return {"median": statistics.median(timed), "min": min(timed), "first": times[0],
            "cpu": statistics.median(cpu[1:]), "losses": losses,
            "finite": all(math.isfinite(x) for x in losses), "culprits": culprits, "skipped": skipped,
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else math.nan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=[str(CONFIGS / "synthetic_cpu.yaml")])
    parser.add_argument("--batch", type=int, nargs="+", default=[4])
    parser.add_argument("--precision", nargs="+", choices=list(DTYPES), default=["fp32"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"device {torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
              f"bf16 supported: {torch.cuda.is_bf16_supported()}")
    for path in args.configs:
        cfg = load_config(path)
        model = build_model(cfg.model)
        print(f"{Path(path).name}: " + ", ".join(f"{k} {v:,}" for k, v in parameter_summary(model).items()))
        print(f"  forward of one pair: {forward_gflops(cfg):.2f} GFLOPs")
        if args.steps == 0:
            continue
        for batch in args.batch:
            base = None
            for precision in args.precision:
                r = time_steps(cfg, device, batch, precision, args.steps)
                rate = batch / r["median"]
                base = rate if precision == "fp32" else base
                ratio = f"{rate / base:.2f}x fp32" if base and precision != "fp32" else "-"
                peak = "n/a" if math.isnan(r["peak_gib"]) else f"{r['peak_gib']:.1f} GiB"
                print(f"  {precision} batch {batch} on {device}, {args.steps} timed steps: median "
                      f"{r['median']:.3f} s (min {r['min']:.3f}, first {r['first']:.3f}, "
                      f"CPU {r['cpu']:.3f}), "
                      f"{rate:.2f} pairs/s ({ratio}), peak memory {peak}; every loss finite: "
                      f"{'yes' if r['finite'] else 'NO'} (" + ", ".join(f"{x:.4g}" for x in r["losses"]) + ")"
                      + (f"; {r['skipped']} step(s) skipped by loss scaling" if r["skipped"] else ""))
                if r["culprits"]:
                    print(f"    non-finite outputs, first ones first: {', '.join(r['culprits'][:8])}")


if __name__ == "__main__":
    main()
