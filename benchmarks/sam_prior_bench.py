"""The human prior's prompts for SAM (``segmenters/prior_prompts``), measured against ground truth.

For every ``--step``-th frame of the shared DAVIS clips (``--real``, skipped with a message where
absent) and of synthetic FineDiving-format datasets (``--synth``, their ``gt_masks.h5``), and for
each athlete there, three tracked boxes with the true mask carried into the frame (a frame's
athletes are prompted together, so the prior keeps to one person per athlete):

- ``exact``: the true mask's box (a tracker that is right: the prior should leave it alone);
- ``slid``: that box slid sideways by 60% of its width, towards the frame's wider side (a
  tracker drifting off the athlete);
- ``grown``: that box grown to 3 times its area around its centre (a runaway box).

Part 1, the rule alone (no SAM): per data set and box kind, the share of boxes where the prior
cannot help (``unseen``: the pose detector finds nobody), the mean IoU of the tracked box with the
true box, and for each ``--min-iou`` the share the rule re-prompts (``drift``) and the mean IoU
with the true box of the box SAM would get; and the prior's milliseconds per box.

Part 2, with ``--sam``: SAM's masks for the same boxes with the prior off and on, their J (IoU)
against the truth, and ``segment``'s milliseconds per box both ways. ``--sam tiny`` and
``--sam vit_h-random`` build random-weight models (their J means nothing; they time the decoder
and check that the path runs: tiny for a CPU smoke run, ViT-H on a GPU); ``--sam vit_h
--checkpoint PATH`` (or vit_l, vit_b) measures quality with real weights.

    # CPU: the rule on real and synthetic data (a few minutes on 2 cores)
    PYTHONPATH=. python benchmarks/sam_prior_bench.py --synth /work/wt/data/s7 --step 4
    # CPU smoke run of the SAM part
    PYTHONPATH=. python benchmarks/sam_prior_bench.py --sam tiny --step 20 --device cpu
    # GPU (random ViT-H: decoder and prior times, prior off vs on)
    PYTHONPATH=. python benchmarks/sam_prior_bench.py --sam vit_h-random --step 6 --device cuda
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from gpu_bench import TINY, VIT_H  # the sibling script's random-weight architectures

from hm_annotate import rle
from hm_annotate.pseudo import boxes
from hm_annotate.pseudo.segmenters.prior_prompts import PriorPrompter

DEFAULT_REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real-footage"
KINDS = ("exact", "slid", "grown")


def tracked_boxes(truth: np.ndarray) -> dict[str, np.ndarray]:
    """The three tracked boxes of one true mask (see the module's docstring)."""
    h, w = truth.shape
    exact = boxes.of_mask(truth)
    width = exact[2] - exact[0]
    towards = 1.0 if exact[0] + exact[2] < w else -1.0
    slid = boxes.clip(exact + towards * 0.6 * width * np.array([1, 0, 1, 0]), h, w)
    grown = boxes.clip(boxes.expand(exact, (np.sqrt(3) - 1) / 2), h, w)
    return {"exact": exact, "slid": slid, "grown": grown}


def real_frames(root: Path, step: int) -> Iterator[tuple[str, np.ndarray, list[np.ndarray]]]:
    if not (root / "frames").is_dir():
        print(f"real footage not found at {root}: skipped")
        return
    for clip in sorted(p.name for p in (root / "frames").iterdir()):
        for path in sorted((root / "frames" / clip).glob("*.jpg"))[::step]:
            truth = cv2.imread(str(root / "masks" / clip / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
            frame = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            yield f"real/{clip}", frame, [truth] if truth.any() else []


def synth_frames(root: Path, step: int) -> Iterator[tuple[str, np.ndarray, list[np.ndarray]]]:
    from hm_annotate.datasets import load_videos
    from hm_annotate.store import MaskStore

    videos = {v.id: v for v in load_videos("finediving", root)}
    with MaskStore.open(root / "gt_masks.h5") as store:
        for vid in sorted(videos):
            data = store.read(vid, "curated")
            for i in range(0, len(data.frames), step):
                masks = [m for m in (rle.decode(r) for r in data.masks[i]) if m.any()]
                yield f"synth/{root.name}", videos[vid].read_frame(int(data.frames[i])), masks


def build_sam(kind: str, checkpoint: str | None, device: str, prior: dict | None):
    from hm_annotate.pseudo.segmenters.sam import SamSegmenter, build_custom_sam

    if kind in ("tiny", "vit_h-random"):
        import torch

        config = TINY if kind == "tiny" else VIT_H
        path = Path(tempfile.gettempdir()) / f"sam_prior_bench_{kind}.pth"
        if not path.exists():
            torch.manual_seed(0)
            torch.save(build_custom_sam(config).state_dict(), path)
        return SamSegmenter(model=kind, checkpoint=str(path), model_config=config, device=device, prior=prior)
    return SamSegmenter(model=kind, checkpoint=checkpoint, device=device, prior=prior)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--synth", type=Path, action="append", default=[], help="synth dataset root (repeatable)")
    ap.add_argument("--step", type=int, default=4, help="every step-th frame")
    ap.add_argument("--min-iou", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6])
    ap.add_argument("--sam-min-iou", type=float, default=0.5, help="the min_iou of SAM's prior")
    ap.add_argument("--sam", default=None, help="tiny, vit_h-random, or vit_h/vit_l/vit_b with --checkpoint")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    prompter = PriorPrompter(min_iou=1.0)  # every person found is "drift": its box is the person's
    prompter.load()
    sams = None
    if args.sam:
        sams = {
            "off": build_sam(args.sam, args.checkpoint, args.device, None),
            "on": build_sam(args.sam, args.checkpoint, args.device, {"min_iou": args.sam_min_iou}),
        }
    unseen: dict[tuple[str, str], list[bool]] = defaultdict(list)
    box_iou: dict[tuple[str, str, str | float], list[float]] = defaultdict(list)
    j: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    seconds: Counter = Counter()
    counts: Counter = Counter()
    sources = [real_frames(args.real, args.step)] + [synth_frames(r, args.step) for r in args.synth]
    for source in sources:
        for name, frame, truths in source:
            if not truths:
                continue
            encoded = {k: s.prepare([frame])[0] for k, s in sams.items()} if sams else {}
            for kind in KINDS:  # the frame's athletes together: one person per athlete
                tracked = np.stack([tracked_boxes(truth)[kind] for truth in truths])
                start = time.perf_counter()
                prompts = prompter.prompts(frame, tracked, carried=truths)
                seconds["prior"] += time.perf_counter() - start
                counts["prior"] += len(truths)
                for truth, box, p in zip(truths, tracked, prompts, strict=True):
                    exact = boxes.of_mask(truth)
                    unseen[name, kind].append(p.reason == "unseen")
                    box_iou[name, kind, "tracked"].append(boxes.iou(box, exact))
                    agree = boxes.iou(box, p.box)  # 1 where unseen: the tracked box stays
                    for t in args.min_iou:
                        box_iou[name, kind, t].append(boxes.iou(p.box if agree < t else box, exact))
                        box_iou[name, kind, f"drift {t}"].append(agree < t)
                for way, seg in (sams or {}).items():
                    start = time.perf_counter()
                    outs = seg.segment(encoded[way], tracked, truths, 0)
                    seconds[way] += time.perf_counter() - start
                    counts[way] += len(truths)
                    j[name, kind, way] += [iou(o.mask, t) for o, t in zip(outs, truths, strict=True)]

    if not unseen:
        print("no frames with ground truth were found: nothing measured")
        return
    print("prior rule: share unseen; box IoU with the truth, tracked; per min_iou: share drift, IoU prompted")
    heads = "".join(f"  @{t:<4} drift   IoU" for t in args.min_iou)
    print(f"{'data':22} {'box':6} {'n':>5} {'unseen':>6} {'IoU':>5}{heads}")
    for name, kind in sorted(unseen):
        line = f"{name:22} {kind:6} {len(unseen[name, kind]):5d} {np.mean(unseen[name, kind]):6.3f}"
        line += f" {np.mean(box_iou[name, kind, 'tracked']):5.3f}"
        for t in args.min_iou:
            drift, prompted = np.mean(box_iou[name, kind, f"drift {t}"]), np.mean(box_iou[name, kind, t])
            line += f"        {drift:5.3f} {prompted:5.3f}"
        print(line)
    print(f"prior: {1000 * seconds['prior'] / max(counts['prior'], 1):.1f} ms per box (CPU)")
    if sams:
        note = " (random weights: J means nothing)" if args.sam in ("tiny", "vit_h-random") else ""
        print(f"SAM {args.sam}{note}: J of its masks, prior off -> on (min_iou {args.sam_min_iou})")
        for name, kind in sorted(unseen):
            off, on = (np.mean(j[name, kind, w]) for w in ("off", "on"))
            print(f"{name:22} {kind:6} {off:.3f} -> {on:.3f}")
        ms = {w: 1000 * seconds[w] / max(counts[w], 1) for w in ("off", "on")}
        print(f"segment per box: {ms['off']:.1f} ms off, {ms['on']:.1f} ms on ({ms['on'] / ms['off']:.2f}x)")


if __name__ == "__main__":
    main()
