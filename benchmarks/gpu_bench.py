"""SAM on a GPU: the image encoder stock vs fast, and the whole pseudo-label pipeline against it.

Prints, in one run:
- encoder images/s of segment_anything's own encoder (fp32; fp16/bf16 under autocast, as the
  segmenter ran it before) and of the fast one (``sam_fast``: SDPA attention, weights and
  activations in fp32/fp16/bf16), batch 1 and 8;
- per image, the cosine similarity of each encoder's output with stock fp32 on real-looking input
  (synthetic diving frames);
- the pipeline (``pipeline.run``: decode, prompts, mask-flow tracker, SAM, RLE, store) on a
  synthetic FineDiving-format dataset with first-frame prompts: frames/s, its stage split, and its
  ratio to the fast encoder alone at the same precision and batch size;
- optionally (``--compile``, in a child process under the time left) the fast encoder through
  ``torch.compile``.

Weights are random (the real checkpoints cannot be downloaded on the GPU machine; random weights
cost the same FLOPs), saved and loaded as a checkpoint file like the official ones. Every step
checks the time budget first and says when it is skipped, so the run ends within ``--budget``.

    # the H200 (ViT-H):
    python benchmarks/gpu_bench.py --budget 190 --compile
    # CPU smoke run (tiny SAM, seconds):
    python benchmarks/gpu_bench.py --tiny --device cpu
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from hm_annotate.pseudo.segmenters.sam import CUSTOM_DEFAULTS

# SAM ViT-H (CUSTOM_DEFAULTS are ViT-B's)
VIT_H = {
    **CUSTOM_DEFAULTS,
    "encoder_embed_dim": 1280,
    "encoder_depth": 32,
    "encoder_num_heads": 16,
    "encoder_global_attn_indexes": [7, 15, 23, 31],
}
# small enough for a CPU smoke run; its window (4) does not divide the token grid (6), as ViT-H's
TINY = dict(CUSTOM_DEFAULTS, image_size=96, encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2)
TINY.update(encoder_global_attn_indexes=[1], window_size=4, prompt_embed_dim=32, decoder_depth=1)
TINY.update(decoder_mlp_dim=64, decoder_num_heads=2, iou_head_hidden_dim=32)
PRECISIONS = ("fp32", "fp16", "bf16")


class Clock:
    """Time left of the run's budget."""

    def __init__(self, budget: float) -> None:
        self.start = time.perf_counter()
        self.budget = budget

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def allows(self, seconds: float, what: str) -> bool:
        left = self.budget - self.elapsed()
        if left < seconds:
            print(f"  {what}: skipped ({left:.0f} s of the budget left, needs ~{seconds:.0f} s)", flush=True)
            return False
        return True


def random_sam(config: dict[str, Any], device: str, seed: int = 0):
    """A SAM with random weights made on ``device`` (ViT-H's 640M on the CPU take long),
    relative position terms included (a fresh SAM starts them at zero, which would hide a wrong
    attention bias from the cosine check)."""
    import torch

    from hm_annotate.pseudo.segmenters.sam import build_custom_sam

    torch.manual_seed(seed)
    with torch.device(device):
        sam = build_custom_sam(config).eval()
    with torch.no_grad():
        for name, p in sam.named_parameters():
            if "rel_pos" in name:
                p.normal_(0.0, 0.02)
    return sam


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def rate(run, batch: int, iters: int, device: str) -> float:
    """Images/s of ``run()`` on a batch, after one warm-up call."""
    run()
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        run()
    sync(device)
    return iters * batch / (time.perf_counter() - start)


def encoder_call(encoder, x, dtype, autocast: bool, device: str):
    """A no-argument call of ``encoder`` on ``x`` at ``dtype`` (weights cast, or autocast)."""
    import torch

    def call():
        with torch.inference_mode():
            if autocast:
                with torch.autocast(device, dtype=dtype, enabled=dtype != torch.float32):
                    return encoder(x)
            return encoder(x.to(dtype))

    return call


def dataset(work: Path, videos: int, frames: int, height: int):
    from hm_annotate.datasets import load_videos
    from hm_annotate.pseudo.prompts import write_box_prompts
    from hm_annotate.synth import generate

    data = work / "data"
    generate(data, videos=videos, seed=7, height=height, frames=frames)
    prompts = work / "prompts.csv"
    write_box_prompts(data / "gt_masks.h5", prompts)
    return load_videos("finediving", data), prompts


def inputs(sam, videos, n: int, device: str):
    """n synthetic frames as the segmenter feeds them to the encoder (resized, normalised, padded)."""
    import numpy as np
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    transform = ResizeLongestSide(sam.image_encoder.img_size)
    video = videos[0]
    picks = np.linspace(0, len(video.frame_numbers) - 1, n).round().astype(int)
    frames = [transform.apply_image(video.read_frame(video.frame_numbers[i])) for i in picks]
    x = torch.as_tensor(np.stack(frames), device=device).permute(0, 3, 1, 2).float()
    return sam.preprocess(x)


def encoders(sam, opts, clock: Clock, images) -> dict[tuple[str, str, int], float]:
    """Images/s per (stock|fast, precision, batch), and cosines with stock fp32 per image."""
    import torch

    from hm_annotate.pseudo.segmenters.sam_fast import accelerate, torch_dtype

    device = opts.device
    stock = sam.image_encoder
    fast = {p: accelerate(copy.deepcopy(stock), torch_dtype(p, device)) for p in PRECISIONS}
    with torch.inference_mode():
        reference = stock(images)
    print("\nencoder output vs stock fp32, cosine per image (min, mean):", flush=True)
    for label, module, autocast in [
        *[(f"fast {p}", fast[p], False) for p in PRECISIONS],
        *[(f"stock {p} autocast", stock, True) for p in PRECISIONS[1:]],
    ]:
        dtype = torch_dtype(label.split()[1], device)
        out = encoder_call(module, images, dtype, autocast, device)()
        cos = torch.nn.functional.cosine_similarity(reference.flatten(1), out.float().flatten(1))
        print(f"  {label:<20} {cos.min().item():.5f} {cos.mean().item():.5f}", flush=True)
    rates: dict[tuple[str, str, int], float] = {}
    print("\nencoder images/s:", flush=True)
    # fast first (the figures the issue asks for), stock fp32 last (the slowest)
    plan = [("fast", p, b) for p in ("bf16", "fp16", "fp32") for b in opts.batches]
    plan += [("stock", p, b) for p in ("bf16", "fp16", "fp32") for b in opts.batches]
    for kind, p, b in plan:
        slow = 4 if kind == "stock" and p == "fp32" else 1
        if not clock.allows(opts.step_seconds * slow, f"{kind} {p} b{b}"):
            continue
        x = images[:1].expand(b, -1, -1, -1).contiguous()
        module = fast[p] if kind == "fast" else stock
        rates[(kind, p, b)] = r = rate(
            encoder_call(module, x, torch_dtype(p, device), kind == "stock", device), b, opts.iters, device
        )
        print(f"  {kind:<5} {p} batch {b}: {r:8.2f} img/s", flush=True)
    for p in PRECISIONS:
        for b in opts.batches:
            if ("fast", p, b) in rates and ("stock", p, b) in rates:
                print(f"  fast / stock {p} batch {b}: {rates[('fast', p, b)] / rates[('stock', p, b)]:.2f}x")
    if clock.allows(opts.step_seconds, "profile"):
        b = max(opts.batches)
        x = images[:1].expand(b, -1, -1, -1).contiguous()
        profile(encoder_call(fast["bf16"], x, torch.bfloat16, False, device), device)
    del fast
    return rates


def profile(call, device: str, rows: int = 12) -> None:
    """Where one call of the fast bf16 encoder spends its time, kernel by kernel (which attention
    kernel SDPA chose shows here too)."""
    import torch
    from torch.profiler import ProfilerActivity

    call()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with torch.profiler.profile(activities=activities) as prof:
        call()
        sync(device)
    on = "device" if device == "cuda" else "cpu"

    def self_time(event) -> float:
        for name in (f"self_{on}_time_total", "self_cuda_time_total"):
            if hasattr(event, name):
                return float(getattr(event, name))
        return 0.0

    events = sorted(prof.key_averages(), key=self_time, reverse=True)
    total = sum(self_time(e) for e in events) or 1.0
    print(f"\nfast bf16 encoder, one batch, self {on} time by kernel/op (top {rows}):")
    for e in events[:rows]:
        ms = self_time(e) / 1000
        print(f"  {100 * self_time(e) / total:5.1f}% {ms:8.2f} ms x{e.count:<4} {e.key[:90]}")


def pipeline(opts, checkpoint: Path, videos, prompts: Path, work: Path, **params) -> float:
    """Frames/s of the whole pipeline with the SAM segmenter at ``params``; prints the stage split."""
    import numpy as np

    from hm_annotate.pseudo.config import Stage, load_pipeline
    from hm_annotate.pseudo.pipeline import Components, run
    from hm_annotate.pseudo.timings import STAGES

    config = dataclasses.replace(
        load_pipeline("finediving-hm"),
        segmenter=Stage(
            "sam", {"model": "random", "checkpoint": str(checkpoint), "model_config": opts.config, **params}
        ),
        tracker=Stage("mask-flow", {}),
        prompts=str(prompts),
        batch_size=opts.pipeline_batch,
        device=opts.device,
    )
    out = work / f"pm-{len(list(work.glob('pm-*.h5')))}.h5"
    parts = Components.build(config)
    # warm up (kernel choice, first-call set-up) on a full batch, as the encoder figures do
    frames = [videos[0].read_frame(n) for n in videos[0].frame_numbers[: opts.pipeline_batch]]
    image = parts.segmenter.prepare(frames)[0]
    parts.segmenter.segment(image, np.array([[8.0, 8.0, 40.0, 60.0]]), [None], 0)
    report = run(videos, out, parts)
    if report.failed:
        raise RuntimeError(f"pipeline failed on {report.failed}")
    t = report.timings
    frames = t.frames
    split = ", ".join(f"{k} {100 * t.seconds[k] / t.wall:.0f}%" for k in STAGES if t.seconds[k] > 0)
    print(f"  {params}: {frames} frames in {t.wall:.1f} s = {frames / t.wall:.2f} frames/s; {split}")
    return frames / t.wall


def compiled(opts) -> None:
    """Images/s of the fast bf16 encoder through ``torch.compile`` (run in a child process)."""
    import torch

    from hm_annotate.pseudo.segmenters.sam_fast import accelerate, torch_dtype

    sam = random_sam(opts.config, opts.device)
    dtype = torch_dtype("bf16", opts.device)
    encoder = torch.compile(accelerate(sam.image_encoder, dtype), dynamic=False)
    b = max(opts.batches)
    size = opts.config["image_size"]
    call = encoder_call(encoder, torch.randn(b, 3, size, size, device=opts.device), dtype, False, opts.device)
    start = time.perf_counter()
    call()
    sync(opts.device)
    print(f"  compile + first call: {time.perf_counter() - start:.0f} s", flush=True)
    print(f"  fast bf16 compiled batch {b}: {rate(call, b, opts.iters, opts.device):8.2f} img/s", flush=True)


def compiled_in_child(seconds: float) -> None:
    """``compiled`` in a child process stopped after ``seconds`` (a compile cannot be interrupted)."""
    print(f"\ntorch.compile (child process, at most {seconds:.0f} s):", flush=True)
    argv = [a for a in sys.argv[1:] if a != "--compile"]
    try:
        subprocess.run([sys.executable, __file__, *argv, "--compiled-only"], timeout=seconds, check=False)
    except subprocess.TimeoutExpired:
        print(f"  did not finish within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="a tiny SAM and dataset (CPU smoke run)")
    parser.add_argument("--budget", type=float, default=190.0, help="seconds for the whole run")
    parser.add_argument("--iters", type=int, default=None, help="timed calls per encoder figure")
    parser.add_argument("--videos", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (child process)")
    parser.add_argument("--compiled-only", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    import torch

    from hm_annotate.pseudo.segmenters.sam import resolve_device

    opts.device = resolve_device(opts.device)
    opts.config = TINY if opts.tiny else VIT_H
    opts.iters = opts.iters or (1 if opts.tiny else 3)
    opts.batches = (1, 2) if opts.tiny else (1, 8)
    opts.pipeline_batch = max(opts.batches)
    opts.step_seconds = 1.0 if opts.tiny else 6.0
    videos_n = opts.videos or (1 if opts.tiny else 3)
    frames_n = opts.frames or (24 if opts.tiny else 104)
    if opts.compiled_only:
        compiled(opts)
        return
    clock = Clock(opts.budget)
    gpu = torch.cuda.get_device_name() if opts.device == "cuda" else "cpu"
    model = "tiny" if opts.tiny else "ViT-H"
    print(f"torch {torch.__version__}, {gpu}, SAM {model} random weights", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        videos, prompts = dataset(work, videos_n, frames_n, 96 if opts.tiny else 256)
        total = sum(len(v.frame_numbers) for v in videos)
        print(f"synthetic dataset: {len(videos)} videos, {total} frames ({clock.elapsed():.0f} s)")
        sam = random_sam(opts.config, opts.device)
        checkpoint = work / "sam.pth"
        torch.save(sam.state_dict(), checkpoint)
        print(f"random SAM made and saved ({clock.elapsed():.0f} s)", flush=True)
        images = inputs(sam, videos, max(opts.batches), opts.device)
        rates = encoders(sam, opts, clock, images)
        del sam
        if opts.device == "cuda":
            torch.cuda.empty_cache()
        print("\npipeline (finediving-hm, mask-flow, first-frame prompts, batch "
              f"{opts.pipeline_batch}), frames/s and stage split:", flush=True)
        fps = {}
        precision = "bf16" if opts.device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
        for params in ({"precision": precision}, {"fast": False, "precision": "fp16"}):
            per_frame = 1.0 / max(rates.get(("fast", precision, opts.pipeline_batch), 1.0), 1e-3)
            if clock.allows(5 + 4 * total * per_frame, f"pipeline {params}"):
                try:  # one run on a borrowed GPU: report the failure, measure the rest
                    fps[json.dumps(params)] = pipeline(opts, checkpoint, videos, prompts, work, **params)
                except Exception:
                    traceback.print_exc()
        key = ("fast", precision, opts.pipeline_batch)
        first = json.dumps({"precision": precision})
        if key in rates and first in fps:
            print(f"  pipeline / fast encoder alone ({precision}, batch {opts.pipeline_batch}): "
                  f"{fps[first]:.2f} / {rates[key]:.2f} = {fps[first] / rates[key]:.2f}x")
        if opts.compile and clock.allows(30, "torch.compile"):
            compiled_in_child(opts.budget - clock.elapsed() - 5)
    print(f"\ntotal {clock.elapsed():.0f} s", flush=True)


if __name__ == "__main__":
    main()
