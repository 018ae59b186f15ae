"""Trainer figures: data-loader throughput with masks, training step time, paper-model forward time.

On a synthetic FineDiving-format dataset (made with ``hm_annotate.synth`` unless --data-root is
given; its ``gt_masks.h5`` supplies the masks) and baseline_model/configs/synthetic_cpu.yaml:

* data loader, samples/s with masks: the first pass (decoding JPEGs into the frame cache) and a
  cached pass (crop, flip, normalise, masks), and the same pass without the cache (decoding every
  time, as for datasets too large to cache);
* training step (forward + losses + backward + Adam) through the real loader, median seconds,
  for each thread count in --threads;
* evaluation of the test split (encode + vote);
* forward time of the paper configuration (uni_fineparser_finediving.yaml: 103 frames, 224 x 224,
  full I3D + ResNet34) for one pair (batch 1) on CPU, no gradients.

    python benchmarks/train_bench.py [--videos 24] [--data-root DIR] [--threads 1 2] [--no-paper]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import torch

from baseline_model.config import Config, load_config
from baseline_model.data import FrameCache, MaskSource, build_splits, frame_shape, load_dataset
from baseline_model.evaluate import evaluate
from baseline_model.losses import compute_loss
from baseline_model.train import build_model, make_optimizer

CONFIGS = Path(__file__).resolve().parents[1] / "baseline_model" / "configs"


def loader_pass(dataset, batch_size: int) -> float:
    """Samples per second of one pass of a DataLoader (main process) over ``dataset``."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    t0 = time.perf_counter()
    n = sum(len(b["q_score"]) for b in loader)
    return n / (time.perf_counter() - t0)


def step_times(cfg, dataset, steps: int) -> list[float]:
    """Wall seconds of ``steps`` training steps fed by the real loader."""
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    optimizer = make_optimizer(model, cfg)
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.train.batch_size, shuffle=True)
    times = []
    while len(times) < steps:
        for batch in loader:
            t0 = time.perf_counter()
            out = model(batch["q_video"], batch["e_video"], batch.get("q_mask"), batch.get("e_mask"))
            loss = compute_loss(out, batch, cfg)["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - t0)
            if len(times) == steps:
                break
    return times


def paper_forward(repeats: int) -> list[float]:
    """Seconds per no-grad forward of one (query, exemplar) pair at the paper's settings."""
    cfg = load_config(CONFIGS / "uni_fineparser_finediving.yaml")
    model = build_model(cfg).eval()
    d = cfg.data
    video = torch.randn(1, 3, d.num_frames, d.image_size, d.image_size)
    times = []
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(video, video)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(CONFIGS / "synthetic_cpu.yaml"))
    parser.add_argument("--data-root", help="FineDiving-format dataset with gt_masks.h5 (default: make one).")
    parser.add_argument("--videos", type=int, default=24, help="Videos to synthesise.")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--paper-repeats", type=int, default=2)
    parser.add_argument("--no-paper", action="store_true", help="Skip the paper-config forward.")
    args = parser.parse_args()

    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data_root) if args.data_root else Path(tmp) / "synth"
        if not args.data_root:
            from hm_annotate.synth import generate

            t0 = time.perf_counter()
            generate(root, videos=args.videos, seed=0)
            print(f"synthesised {args.videos} videos in {time.perf_counter() - t0:.1f} s")
        data = dataclasses.replace(cfg.data, data_root=str(root), mask_store=str(root / "gt_masks.h5"),
                                   mask_layer="corrected")
        cfg = Config(model=cfg.model, data=data, train=cfg.train)
        train_v, test_v = load_dataset(cfg.data)
        frames = sum(len(v.frame_numbers) for v in [*train_v, *test_v])
        print(f"config {Path(args.config).name}: {len(train_v)} train / {len(test_v)} test videos, {frames} "
              f"frames, clips {cfg.data.num_frames} x {cfg.data.image_size}^2, batch {cfg.train.batch_size}")

        torch.set_num_threads(args.threads[0])
        t0 = time.perf_counter()
        cached = build_splits(train_v, test_v, cfg.data, seed=0, progress=False,
                              masks=MaskSource(cfg.data.mask_store, "corrected"), cache=True)
        fill = time.perf_counter() - t0
        print(f"frame + mask cache fill: {fill:.1f} s ({frames / fill:.0f} frames/s decoded and resized)")
        warm = loader_pass(cached.train, cfg.train.batch_size)
        print(f"data loader, cached, with masks: {warm:.1f} samples/s (pairs)")
        uncached = build_splits(train_v, test_v, cfg.data, seed=0, progress=False,
                                masks=MaskSource(cfg.data.mask_store, "corrected", cache=False),
                                frames=FrameCache(frame_shape(cfg.data), enabled=False))
        cold = loader_pass(uncached.train, cfg.train.batch_size)
        print(f"data loader, no cache (decode every time), with masks: {cold:.1f} samples/s (pairs)")

        for threads in args.threads:
            torch.set_num_threads(threads)
            times = step_times(cfg, cached.train, args.steps)[1:]  # the first step warms up
            med = statistics.median(times)
            print(f"training step, batch {cfg.train.batch_size}, {threads} thread(s): median {med:.3f} s "
                  f"({cfg.train.batch_size / med:.1f} pairs/s); epoch of {len(cached.train)} pairs ~ "
                  f"{len(cached.train) / cfg.train.batch_size * med:.0f} s")
        torch.set_num_threads(args.threads[0])
        t0 = time.perf_counter()
        evaluate(build_model(cfg), cached.test, cfg, progress=False)
        print(f"evaluation ({len(test_v)} queries x M = {cfg.data.num_exemplars_vote}): "
              f"{time.perf_counter() - t0:.1f} s")

    if not args.no_paper:
        torch.set_num_threads(max(args.threads))
        times = paper_forward(args.paper_repeats)
        print(f"paper config forward, 1 pair (2 x 103 x 224^2), {max(args.threads)} thread(s), no grad: "
              f"{', '.join(f'{t:.1f}' for t in times)} s")


if __name__ == "__main__":
    main()
