"""Uni-FineParser model figures: parameters per component and the time of one training step.

Prints, for each config given (default: synthetic_cpu.yaml), the parameter summary and the median
wall and CPU time of forward + loss + backward + Adam step on random inputs of the config's shape.
On a shared machine use --threads 1: two OpenMP threads that wait for each other on busy cores
make small ops many times slower; the CPU time shows what the step costs on an idle core.
Usage: python benchmarks/model_bench.py [config.yaml ...] [--batch 4] [--steps 5] [--threads N]
(--steps 0 prints the parameter and FLOP counts only)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from baseline_model.config import load_config
from baseline_model.losses import compute_loss
from baseline_model.models import build_model
from baseline_model.summary import parameter_summary

CONFIGS = Path(__file__).resolve().parents[1] / "baseline_model" / "configs"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=[str(CONFIGS / "synthetic_cpu.yaml")])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for path in args.configs:
        cfg = load_config(path)
        model = build_model(cfg.model)
        print(f"{Path(path).name}: " + ", ".join(f"{k} {v:,}" for k, v in parameter_summary(model).items()))
        print(f"  forward of one pair: {forward_gflops(cfg):.2f} GFLOPs")
        if args.steps == 0:
            continue
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        batch = random_batch(cfg, args.batch)
        times, cpu = [], []
        for _ in range(args.steps + 1):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
            loss = compute_loss(out, batch, cfg)["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        timed = times[1:]
        print(f"  training step, batch {args.batch}, {torch.get_num_threads()} threads: median "
              f"{statistics.median(timed):.3f} s, min {min(timed):.3f} s (first {times[0]:.3f} s); "
              f"CPU time median {statistics.median(cpu[1:]):.3f} s (the wall time on idle cores)")


if __name__ == "__main__":
    main()
