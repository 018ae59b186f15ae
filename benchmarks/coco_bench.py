"""COCO export and import of a FineDiving-HM-sized store.

Builds a store of synthetic masks (3,000 videos x 104 frames of 256 x 456 by default: 312,000
masks; every 5th video synchronised, with two objects per frame), then times ``export_coco`` +
``write_coco`` (the full layer as one JSON file), a dry-run ``import_coco`` of that file (parse,
validate every RLE, compare with the store), and reports file sizes.

    python benchmarks/coco_bench.py [--videos 3000] [--frames 104] [--workdir /tmp/hm-coco-bench]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from scale import H, W, diver_masks  # benchmarks/ is on sys.path when a script runs

from hm_annotate import rle
from hm_annotate.io.coco import export_coco, import_coco, write_coco
from hm_annotate.store import LayerData, MaskStore


def build(store: Path, n_videos: int, n_frames: int) -> int:
    """Write the store (16 distinct mask sequences reused, so building stays quick); returns masks."""
    pools = [rle.encode_batch(diver_masks(k, n_frames)) for k in range(16)]
    masks = 0
    with MaskStore.open(store, "a") as st:
        for i in range(n_videos):
            a, b = pools[i % 16], pools[(i + 7) % 16]
            objs = [[x, y] for x, y in zip(a, b)] if i % 5 == 0 else [[x] for x in a]
            scores = np.linspace(0.6, 0.99, n_frames).astype(np.float32)
            data = LayerData(frames=np.arange(n_frames) + 489, masks=objs, height=H, width=W, scores=scores)
            st.put(
                f"Event{i // 50:03d}_final/{i % 50}", "pseudo", data, metadata={"athletes": 1 + (i % 5 == 0)}
            )
            masks += sum(len(o) for o in objs)
    return masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=104)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/hm-coco-bench"))
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    store, out = args.workdir / "masks.h5", args.workdir / "all.json"

    t0 = time.perf_counter()
    masks = build(store, args.videos, args.frames)
    print(
        f"store: {args.videos:,} videos, {masks:,} masks, {store.stat().st_size / 1e6:.1f} MB, "
        f"built in {time.perf_counter() - t0:.1f} s"
    )

    t0 = time.perf_counter()
    data = export_coco(store, layer="curated")
    t1 = time.perf_counter()
    write_coco(data, out)
    t2 = time.perf_counter()
    print(
        f"export-coco: {len(data['annotations']):,} annotations, {len(data['images']):,} images: "
        f"build {t1 - t0:.1f} s + write {t2 - t1:.1f} s = {t2 - t0:.1f} s "
        f"({len(data['annotations']) / (t2 - t0):,.0f} masks/s), JSON {out.stat().st_size / 1e6:.1f} MB"
    )
    del data

    t0 = time.perf_counter()
    summary = import_coco(out, store, dry_run=True)
    t1 = time.perf_counter()
    print(
        f"import-coco --dry-run: {summary.images:,} frames ({summary.unchanged:,} unchanged), {t1 - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
