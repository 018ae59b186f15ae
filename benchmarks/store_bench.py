"""Mask store vs per-frame PNG and gray-JPG trees at FineDiving-HM scale.

Writes the same synthetic masks (moving ellipses, 3,000 videos x 104 frames of 256 x 456 by
default: 312,000 masks) three ways and prints, for each, bytes on disk, write time, sequential
read+decode throughput, random single-frame latency and a pass over every mask's area and bbox,
each also as a ratio to the PNG tree measured in the same run.

    python benchmarks/store_bench.py [--videos 3000] [--frames 104] [--workdir /tmp/hm-store-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
from scale import H, W, diver_masks  # benchmarks/ is on sys.path when a script runs

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk (what du counts), for a file or a tree."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def write_all(workdir: Path, n_videos: int, n_frames: int) -> dict[str, float]:
    store, png, jpg = workdir / "masks.h5", workdir / "png", workdir / "jpg"
    times = {"store": 0.0, "png": 0.0, "jpg": 0.0}
    with MaskStore.open(store, "a") as st:
        for i in range(n_videos):
            masks = diver_masks(i, n_frames)
            vid = f"event_{i // 30:03d}/{i % 30}"
            t0 = time.perf_counter()
            data = LayerData(
                frames=np.arange(1000, 1000 + n_frames),
                masks=[[r] for r in rle.encode_batch(masks)],
                height=H,
                width=W,
            )
            st.put(vid, "corrected", data, metadata={"action_type": f"{100 + i % 52}b"})
            t1 = time.perf_counter()
            for root, ext, params in ((png, "png", [cv2.IMWRITE_PNG_COMPRESSION, 3]), (jpg, "jpg", [])):
                folder = root / vid
                folder.mkdir(parents=True, exist_ok=True)
                t = time.perf_counter()
                for k, m in enumerate(masks):
                    cv2.imwrite(str(folder / f"{1000 + k:05d}.{ext}"), m * np.uint8(255), params)
                times[ext] += time.perf_counter() - t
            times["store"] += t1 - t0
            if i % 250 == 0:
                print(f"  wrote {i + 1}/{n_videos} videos", flush=True)
        t = time.perf_counter()
    times["store"] += time.perf_counter() - t  # the final fold of the journal on close
    return times


def read_tree(root: Path, ext: str) -> tuple[float, int]:
    t, n = time.perf_counter(), 0
    for folder in sorted(p for p in root.glob("*/*") if p.is_dir()):
        for f in sorted(folder.glob(f"*.{ext}")):
            m = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) >= 128
            n += int(m.shape[0] > 0)
    return time.perf_counter() - t, n


def read_store(path: Path) -> tuple[float, int]:
    t, n = time.perf_counter(), 0
    with MaskStore.open(path) as st:
        for vid in st.videos():
            frames, masks = st.masks(vid, "corrected")
            n += len(frames)
    return time.perf_counter() - t, n


def area_pass_store(path: Path) -> float:
    t = time.perf_counter()
    total = 0
    with MaskStore.open(path) as st:
        for vid in st.videos():
            _, area, bbox = st.area_bbox(vid, "corrected")
            total += int(area.sum()) + int(bbox[:, 2].sum())
    return time.perf_counter() - t


def area_pass_tree(root: Path, ext: str, limit: int) -> float:
    """Area and bbox of every mask by decoding images (timed on ``limit`` videos, scaled up)."""
    folders = sorted(p for p in root.glob("*/*") if p.is_dir())
    t = time.perf_counter()
    for folder in folders[:limit]:
        for f in sorted(folder.glob(f"*.{ext}")):
            m = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) >= 128
            m.sum()
            cv2.boundingRect(m.astype(np.uint8))
    return (time.perf_counter() - t) * len(folders) / min(limit, len(folders))


def random_latency(workdir: Path, n_videos: int, n_frames: int, samples: int = 300) -> dict[str, float]:
    rng = np.random.default_rng(0)
    picks = [(int(rng.integers(n_videos)), 1000 + int(rng.integers(n_frames))) for _ in range(samples)]
    ids = [(f"event_{i // 30:03d}/{i % 30}", f) for i, f in picks]
    out = {}
    t = time.perf_counter()
    with MaskStore.open(workdir / "masks.h5") as st:
        for vid, f in ids:
            rle.decode(rle.union(st.frame(vid, "corrected", f), (H, W)))
    out["store"] = (time.perf_counter() - t) / samples
    for ext in ("png", "jpg"):
        t = time.perf_counter()
        for vid, f in ids:
            cv2.imread(str(workdir / ext / vid / f"{f:05d}.{ext}"), cv2.IMREAD_GRAYSCALE)
        out[ext] = (time.perf_counter() - t) / samples
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=104)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hm-store-bench"))
    ap.add_argument("--keep", action="store_true", help="Keep the written data.")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    n = args.videos * args.frames
    print(f"{args.videos} videos x {args.frames} frames = {n:,} masks of {H}x{W}")
    write = write_all(args.workdir, args.videos, args.frames)
    os.sync()
    size = {
        "store": disk_bytes(args.workdir / "masks.h5"),
        "png": disk_bytes(args.workdir / "png"),
        "jpg": disk_bytes(args.workdir / "jpg"),
    }
    read = {"store": read_store(args.workdir / "masks.h5")[0]}
    read["png"] = read_tree(args.workdir / "png", "png")[0]
    read["jpg"] = read_tree(args.workdir / "jpg", "jpg")[0]
    latency = random_latency(args.workdir, args.videos, args.frames)
    limit = max(1, args.videos // 10)
    area = {
        "store": area_pass_store(args.workdir / "masks.h5"),
        "png": area_pass_tree(args.workdir / "png", "png", limit),
        "jpg": area_pass_tree(args.workdir / "jpg", "jpg", limit),
    }
    rows = [
        ("bytes on disk", size, lambda v: f"{v / 2**20:10.1f} MiB", False),
        ("write time", write, lambda v: f"{v:10.1f} s  ", False),
        ("sequential read+decode", {k: n / v for k, v in read.items()}, lambda v: f"{v:10.0f} /s ", True),
        ("random frame latency", {k: v * 1e3 for k, v in latency.items()}, lambda v: f"{v:10.3f} ms ", False),
        ("area+bbox pass (all)", area, lambda v: f"{v:10.2f} s  ", False),
    ]
    print(f"\n{'measure':<24}{'store':>16}{'png tree':>16}{'jpg tree':>16}   store/png  jpg/png")
    for name, vals, fmt, _ in rows:
        ratio = vals["store"] / vals["png"]
        print(
            f"{name:<24}{fmt(vals['store']):>16}{fmt(vals['png']):>16}{fmt(vals['jpg']):>16}"
            f"   {ratio:8.3f}  {vals['jpg'] / vals['png']:7.3f}"
        )
    print(f"\n(area pass of the image trees decoded {limit} of {args.videos} videos and was scaled up)")
    if not args.keep:
        shutil.rmtree(args.workdir)


if __name__ == "__main__":
    main()
