"""Write a pseudo-label prompts CSV from a store: each object's box on its video's first masked frame.

This stands in for an annotator drawing one box per athlete on the first frame (how the paper
prompted SAM). On a synthetic dataset it reads the exact masks; on real data, point it at a
store of a few hand-drawn keyframe masks. With ``--every-frame`` each masked frame gets its box:
pseudo-labelling then measures the segmenter alone, with a perfect tracker.

    python tools/first_frame_prompts.py STORE OUT.csv [--layer corrected] [--every-frame]
"""

from __future__ import annotations

import argparse

from hm_annotate.pseudo.prompts import write_box_prompts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store")
    ap.add_argument("out")
    ap.add_argument("--layer", default="corrected")
    ap.add_argument("--every-frame", action="store_true", help="a box on every masked frame")
    args = ap.parse_args()
    rows = write_box_prompts(args.store, args.out, layer=args.layer, every_frame=args.every_frame)
    print(f"wrote {rows} prompt boxes to {args.out}")


if __name__ == "__main__":
    main()
