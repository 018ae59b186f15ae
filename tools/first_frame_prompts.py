"""Write a pseudo-label prompts CSV from a store: each object's box on its video's first masked frame.

This stands in for an annotator drawing one box per athlete on the first frame (how the paper
prompted SAM). On a synthetic dataset it reads the exact masks; on real data, point it at a
store of a few hand-drawn keyframe masks.

    python tools/first_frame_prompts.py STORE OUT.csv [--layer corrected]
"""

from __future__ import annotations

import argparse
import csv

from hm_annotate import rle
from hm_annotate.store import MaskStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("out")
    ap.add_argument("--layer", default="corrected")
    args = ap.parse_args()
    rows = 0
    with MaskStore.open(args.store) as st, open(args.out, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["video_id", "frame", "x0", "y0", "x1", "y1", "object_id"])
        for vid in st.videos():
            data = st.read(vid, args.layer)
            first = next((i for i, objs in enumerate(data.masks) if objs), None)
            if first is None:
                continue
            for mask, oid in zip(data.masks[first], data.object_ids[first]):
                x, y, w, h = rle.bbox([mask])[0]
                out.writerow([vid, int(data.frames[first]), int(x), int(y), int(x + w), int(y + h), oid])
                rows += 1
    print(f"wrote {rows} prompt boxes to {args.out}")


if __name__ == "__main__":
    main()
