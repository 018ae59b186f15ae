"""Pseudo-label quality and speed on real footage with hand-made ground truth.

Reads ``../shared/real-footage`` (DAVIS 2016 clips of people: ``frames/<clip>/*.jpg`` and
``masks/<clip>/*.png``; see its README), or ``--root``; the clips are never copied into the
repository, and without them the script says so and exits. Each shipped pipeline runs on every
clip twice: from a first-frame prompt (the ground-truth box of frame 0, as an annotator would
draw it) and with no prompt (the detector finds the person). Per clip it prints DAVIS J, F and
J&F, frames per second of the whole labelling (decode to masks; one process, cv2 on one thread
as the pipeline sets) by the wall clock and by the process's CPU time (what one free core would
give on a machine shared with other jobs), the mean IoU of the boxes handed to the segmenter
against the ground-truth boxes (how well the tracker follows, apart from segmentation), and the
frames the runaway guard flagged.

    .venv/bin/python benchmarks/real_footage_bench.py [--pipeline synthetic-demo ...] [--frames 60]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hm_annotate import rle
from hm_annotate.datasets import load_videos
from hm_annotate.evaluate import score_objects
from hm_annotate.frame_names import frame_number
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.config import load_pipeline
from hm_annotate.pseudo.pipeline import Components, Timings, label_video, video_seed
from hm_annotate.pseudo.segmenters.base import Segmentation, Segmenter

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "real-footage"


class BoxRecorder(Segmenter):
    """Passes every call to the pipeline's segmenter and keeps the boxes it was given, by frame
    position (the pipeline seeds each frame with the video's seed plus its position)."""

    def __init__(self, inner: Segmenter) -> None:
        self.inner = inner
        self.name = inner.name
        self.motion_offsets = inner.motion_offsets
        self.uses_appearance = inner.uses_appearance
        self.base = 0
        self.boxes: dict[int, np.ndarray] = {}

    def prepare(self, frames: Sequence[np.ndarray]) -> list[Any]:
        return self.inner.prepare(frames)

    def segment(self, image, boxes_, priors, seed, motion=None, appearance=None) -> list[Segmentation]:
        self.boxes.setdefault(seed - self.base, np.asarray(boxes_[0], np.float64))
        return self.inner.segment(image, boxes_, priors, seed, motion, appearance)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()


def read_truth(root: Path, clip: str, numbers: Sequence[int]) -> np.ndarray:
    """F x H x W bool ground truth of a clip, on the video's frame numbers."""
    names = sorted((root / "masks" / clip).glob("*.png"))
    by_number = {frame_number(p.name): p for p in names}
    return np.stack([cv2.imread(str(by_number[n]), cv2.IMREAD_GRAYSCALE) > 127 for n in numbers])


def write_prompts(path: Path, truth: dict[str, np.ndarray], numbers: dict[str, Sequence[int]]) -> None:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["video_id", "frame", "x0", "y0", "x1", "y1"])
        for clip, gt in truth.items():
            out.writerow([clip, numbers[clip][0], *boxes.of_mask(gt[0]).astype(int).tolist()])


def box_iou(recorded: dict[int, np.ndarray], gt: np.ndarray) -> float:
    """Mean IoU of the segmenter's box against the ground-truth box per frame (0 with no box)."""
    values = []
    for p, mask in enumerate(gt):
        truth = boxes.of_mask(mask)
        if truth is None:
            continue
        values.append(boxes.iou(recorded[p], truth) if p in recorded else 0.0)
    return float(np.mean(values)) if values else float("nan")


def run_clip(video, parts: Components, gt: np.ndarray) -> dict[str, float]:
    recorder = BoxRecorder(parts.segmenter)
    recorder.base = video_seed(parts.config.seed, video.id)
    wrapped = dataclasses.replace(parts, segmenter=recorder)
    timings = Timings()
    start, cpu = time.perf_counter(), time.process_time()
    data = label_video(video, wrapped, timings=timings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    h, w = data.height, data.width
    pred = np.stack([rle.decode(rle.union(objs, (h, w))) for objs in data.masks])
    scores = score_objects({1: pred}, {1: gt}, "semi-supervised")[1]  # one person, every frame
    flagged = data.quality.get("runaway")
    return {
        "J": scores["J_mean"],
        "F": scores["F_mean"],
        "JF": scores["JF_mean"],
        "fps": len(gt) / wall,
        "cpu_fps": len(gt) / max(cpu, 1e-9),
        "box_iou": box_iou(recorder.boxes, gt),
        "runaway": float(np.sum(flagged)) if flagged is not None else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the real-footage folder")
    ap.add_argument("--pipeline", action="append", help="name or YAML (repeat; default synthetic-demo)")
    ap.add_argument("--clips", nargs="*", help="clip names (default: all)")
    ap.add_argument("--frames", type=int, default=0, help="first N frames of each clip (0: all)")
    ap.add_argument("--modes", default="prompts,no-prompts", help="prompts and/or no-prompts")
    opts = ap.parse_args()
    if not (opts.root / "frames").is_dir() or not (opts.root / "masks").is_dir():
        print(f"real footage not found at {opts.root} (frames/ and masks/): nothing to measure")
        sys.exit(0)
    cv2.setNumThreads(1)
    videos = [v for v in load_videos("videos", opts.root / "frames") if not opts.clips or v.id in opts.clips]
    if opts.frames:
        videos = [dataclasses.replace(v, frame_numbers=v.frame_numbers[: opts.frames]) for v in videos]
    truth = {v.id: read_truth(opts.root, v.id, v.frame_numbers) for v in videos}
    numbers = {v.id: v.frame_numbers for v in videos}
    print(f"{len(videos)} clips, {sum(len(t) for t in truth.values())} frames, from {opts.root}")
    with tempfile.TemporaryDirectory() as tmp:
        prompt_file = Path(tmp) / "prompts.csv"
        write_prompts(prompt_file, truth, numbers)
        for name in opts.pipeline or ["synthetic-demo"]:
            for mode in opts.modes.split(","):
                config = load_pipeline(name)
                config = dataclasses.replace(config, prompts=str(prompt_file) if mode == "prompts" else None)
                parts = Components.build(config)
                print(f"\n{name} ({config.segmenter.name} + {config.tracker.name}), {mode}")
                heads = ("J", "F", "J&F", "frames/s", "cpu f/s", "box IoU", "runaway")
                print(f"  {'clip':<18} " + " ".join(f"{h:>{6 if i < 3 else 8}}" for i, h in enumerate(heads)))
                rows = {}
                for video in videos:
                    rows[video.id] = row = run_clip(video, parts, truth[video.id])
                    figures = (row["J"], row["F"], row["JF"], row["fps"], row["cpu_fps"], row["box_iou"])
                    shown = " ".join(f"{v:6.3f}" if i < 3 else f"{v:8.2f}" for i, v in enumerate(figures))
                    print(f"  {video.id:<18} {shown} {row['runaway']:7.0f}", flush=True)
                mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("J", "F", "JF", "box_iou")}
                frames = sum(len(t) for t in truth.values())
                seconds = sum(len(truth[c]) / r["fps"] for c, r in rows.items())
                cpu = sum(len(truth[c]) / r["cpu_fps"] for c, r in rows.items())
                figures = (mean["J"], mean["F"], mean["JF"], frames / seconds, frames / cpu, mean["box_iou"])
                shown = " ".join(f"{v:6.3f}" if i < 3 else f"{v:8.2f}" for i, v in enumerate(figures))
                print(f"  {'mean':<18} {shown}")


if __name__ == "__main__":
    main()
