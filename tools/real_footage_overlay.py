"""Tile pseudo masks on the shared real footage: one row per clip, a few frames each.

Runs a pipeline (the CPU default unless ``--pipeline``) on the clips of ``../shared/real-footage``
from a first-frame prompt (the ground-truth box of frame 0, as ``benchmarks/real_footage_bench.py``
does), overlays each frame's mask and writes one PNG. The clips' terms keep them out of the
repository, so write the picture outside it unless their owners allow otherwise.

    .venv/bin/python tools/real_footage_overlay.py OUT.png [--clips swing hockey] [--frames 0 30 59]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hm_annotate.datasets import load_videos
from hm_annotate.pseudo.config import load_pipeline
from hm_annotate.pseudo.pipeline import Components, label_video
from hm_annotate.render import caption, overlay

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "real_footage_bench.py"


def _bench():
    spec = importlib.util.spec_from_file_location("real_footage_bench", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    bench = _bench()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--root", type=Path, default=bench.DEFAULT_ROOT)
    ap.add_argument("--pipeline", default="synthetic-demo")
    ap.add_argument("--clips", nargs="*", default=["breakdance-flare", "hockey", "swing"])
    ap.add_argument("--frames", nargs="*", type=int, default=[0, 20, 40, 59])
    ap.add_argument("--scale", type=float, default=0.5)
    args = ap.parse_args()
    if not (args.root / "frames").is_dir():
        raise SystemExit(f"real footage not found at {args.root}")
    cv2.setNumThreads(1)
    last = max(args.frames) + 1
    videos = [v for v in load_videos("videos", args.root / "frames") if v.id in args.clips]
    videos = [dataclasses.replace(v, frame_numbers=v.frame_numbers[:last]) for v in videos]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.csv"
        truth = {v.id: bench.read_truth(args.root, v.id, v.frame_numbers[:1]) for v in videos}
        bench.write_prompts(prompts, truth, {v.id: v.frame_numbers for v in videos})
        parts = Components.build(dataclasses.replace(load_pipeline(args.pipeline), prompts=str(prompts)))
        for video in videos:
            data = label_video(video, parts)
            tiles = []
            for n in args.frames:
                p = list(data.frames).index(n)
                rgb = overlay(video.read_frame(n), data.masks[p])
                rgb = cv2.resize(rgb, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA)
                tiles.append(caption(rgb, f"{video.id} #{n}"))
            rows.append(np.concatenate(tiles, axis=1))
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.out)
    print(f"wrote {args.out} ({len(rows)} clips, frames {', '.join(map(str, args.frames))})")


if __name__ == "__main__":
    main()
