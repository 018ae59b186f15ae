"""Statistics and COCO export of a FineDiving-HM-sized store, against a decode-every-mask baseline.

Builds (once, cached under --workdir) a store shaped like FineDiving-HM: 3,000 videos, 312,256
masks of 256 x 456 (2,744 videos of 104 frames and 256 of 105), every 5th video synchronised with
two objects per frame, 52 action types, and a corrected layer on every 10th video. Then times, in
one run:

- ``compute_stats`` (no decoding; with and without the temporal IoU of consecutive frames);
- the baseline: the same areas, boxes and consecutive IoUs from decoded masks (``store.masks``);
- ``export_coco`` + ``write_coco`` of the curated layer (H8's exporter).

Goals: stats over 312,256 masks <= 15 s; export-coco <= 60 s.

    python benchmarks/stats_bench.py [--videos 3000] [--baseline-videos 3000] [--workdir /tmp/hm-stats-bench]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from scale import H, W, diver_masks  # benchmarks/ is on sys.path when a script runs

from hm_annotate import rle
from hm_annotate.store import LayerData, MaskStore

TOTAL_MASKS = 312_256
ACTION_TYPES = 52
BUILD_VERSION = 1  # bump when the builder changes, so a cached store is rebuilt


def frame_counts(n_videos: int) -> np.ndarray:
    """Per-video frame counts summing to 312,256 for 3,000 videos (104 or 105 frames)."""
    counts = np.full(n_videos, TOTAL_MASKS // 3000, np.int64)
    extra = round(n_videos * (TOTAL_MASKS / 3000 - TOTAL_MASKS // 3000))
    counts[:extra] += 1
    return counts


def build(store: Path, n_videos: int) -> None:
    """Write the store from 16 pooled mask sequences (distinct enough; building stays quick)."""
    longest = int(frame_counts(n_videos).max())
    pools = [rle.encode_batch(diver_masks(k, longest)) for k in range(16)]
    shifted = [rle.encode_batch(diver_masks(k, longest, shift=2.0)) for k in range(16)]
    weights = 1.0 / np.arange(1, ACTION_TYPES + 1) ** 0.9
    rng = np.random.default_rng(0)
    types = rng.choice(ACTION_TYPES, size=n_videos, p=weights / weights.sum())
    codes = [f"{100 * (1 + k % 5) + 1 + k // 5}{'abcd'[k % 4]}" for k in range(ACTION_TYPES)]
    tmp = store.with_name(store.name + ".building")
    with MaskStore.open(tmp, "a") as st:
        for start in range(0, n_videos, 100):
            with st.transaction():
                for i in range(start, min(start + 100, n_videos)):
                    n = int(frame_counts(n_videos)[i])
                    sync = i % 5 == 0
                    a, b = pools[i % 16][:n], pools[(i + 7) % 16][:n]
                    objs = [[x, y] for x, y in zip(a, b)] if sync else [[x] for x in a]
                    event = f"Event{i // 100:02d}_{'Synchronised' if sync else 'Individual'}"
                    meta = {"action_type": codes[types[i]], "athletes": 2 if sync else 1,
                            "split": "train" if i % 4 else "test", "event": event}  # fmt: skip
                    frames = np.arange(489, 489 + n)
                    st.put(f"{event}/{i}", "pseudo", LayerData(frames, objs, H, W), metadata=meta)
                    if i % 10 == 3:
                        c = shifted[i % 16][:n]
                        fixed = [[x, y] for x, y in zip(c, b)] if sync else [[x] for x in c]
                        st.put(f"{event}/{i}", "corrected", LayerData(frames, fixed, H, W))
    tmp.replace(store)


def baseline(store: Path, videos: list[str]) -> tuple[float, dict]:
    """Areas, boxes and consecutive IoUs from decoded masks: the way without the store's arrays."""
    t0 = time.perf_counter()
    areas, widths, ious = [], [], []
    with MaskStore.open(store) as st:
        for vid in videos:
            _, m = st.masks(vid, "curated")
            flat = m.reshape(len(m), -1).astype(bool)
            areas.append(flat.sum(1))
            cols = m.any(axis=1)
            has = cols.any(axis=1)
            first = np.argmax(cols, axis=1)
            last = W - np.argmax(cols[:, ::-1], axis=1)
            widths.append(np.where(has, last - first, 0))
            inter = (flat[1:] & flat[:-1]).sum(1)
            union = (flat[1:] | flat[:-1]).sum(1)
            ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
    elapsed = time.perf_counter() - t0
    area = np.concatenate(areas)
    return elapsed, {"masks": int(area.size), "mean_area": float(area.mean()),
                     "mean_iou": float(np.concatenate(ious).mean())}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3000)
    ap.add_argument("--baseline-videos", type=int, default=None,
                    help="decode only this many videos for the baseline and scale (default: all)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hm-stats-bench"))
    ap.add_argument("--skip-coco", action="store_true", help="time only the statistics")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.workdir / f"finediving_hm_{args.videos}_v{BUILD_VERSION}.h5"
    if not store.exists():
        t0 = time.perf_counter()
        build(store, args.videos)
        print(f"built {store} in {time.perf_counter() - t0:.1f} s")
    with MaskStore.open(store) as st:
        videos = st.videos()
    print(f"store: {len(videos):,} videos, {int(frame_counts(args.videos).sum()):,} masks (frames), "
          f"{store.stat().st_size / 1e6:.1f} MB")  # fmt: skip

    from hm_annotate.stats import compute_stats

    print(f"load average before timing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times stretch when other processes share them; CPU times do not)")  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    report = compute_stats(store)
    t_stats, c_stats = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    compute_stats(store, temporal=False)
    t_counts, c_counts = time.perf_counter() - t0, time.process_time() - c0
    print(f"stats: {report['masks']:,} masks, {len(report['by_action_type'])} action types, "
          f"{report['athletes']['synchronised']['masks']:,} synchronised masks, "
          f"temporal IoU {report['temporal_iou']['mean']:.4f}, PM-vs-corrected IoU "
          f"{report['correction']['pm_vs_corrected']['mean_iou']:.4f}")  # fmt: skip
    print(f"  compute_stats (with temporal IoU):    {t_stats:7.2f} s wall, {c_stats:6.2f} s CPU   "
          f"goal <= 15 s: {'met' if t_stats <= 15 else 'MISSED'}")  # fmt: skip
    print(f"  compute_stats (--no-temporal):        {t_counts:7.2f} s wall, {c_counts:6.2f} s CPU")

    n_base = len(videos) if args.baseline_videos is None else min(args.baseline_videos, len(videos))
    step = max(1, len(videos) // n_base)
    sample = videos[::step][:n_base]
    c0 = time.process_time()
    t_base, base = baseline(store, sample)
    c_base = time.process_time() - c0
    scale = len(videos) / len(sample)
    print(f"  baseline (decode every mask: area, box, consecutive IoU), {len(sample):,} videos: "
          f"{t_base:.2f} s wall, {c_base:.2f} s CPU"
          + (f" -> {t_base * scale:.1f} s wall, {c_base * scale:.1f} s CPU for all" if scale != 1 else ""))
    print(f"  stats / baseline: wall {t_stats / (t_base * scale):.3f}, CPU {c_stats / (c_base * scale):.3f} "
          f"(the baseline takes {c_base * scale / c_stats:.1f}x the CPU)")  # fmt: skip
    if scale == 1:
        agree = abs(base["mean_iou"] - report["temporal_iou"]["mean"]) < 1e-9
        print(f"  same temporal IoU from decoded masks: {agree} ({base['mean_iou']:.6f})")

    if args.skip_coco:
        print("export-coco: skipped (--skip-coco)")
        return
    try:
        from hm_annotate.io.coco import export_coco, write_coco
    except ImportError:
        print("export-coco: hm_annotate.io.coco.export_coco is not available; timed the statistics only")
        return
    out = args.workdir / "curated.json"
    t0, c0 = time.perf_counter(), time.process_time()
    data = export_coco(store, layer="curated")
    write_coco(data, out)
    t_coco, c_coco = time.perf_counter() - t0, time.process_time() - c0
    print(f"  export-coco (curated, {len(data['annotations']):,} annotations, "
          f"{out.stat().st_size / 1e6:.0f} MB): {t_coco:7.2f} s wall, {c_coco:6.2f} s CPU   goal <= 60 s: "
          f"{'met' if t_coco <= 60 else 'MISSED'}")  # fmt: skip
    out.unlink()


if __name__ == "__main__":
    main()
