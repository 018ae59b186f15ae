"""Table 14 end to end: what real pseudo masks are worth against exact masks and no masks.

1. ``hm-annotate synth``: VIDEOS synthetic FineDiving-format clips with exact masks (GTM, layer
   ``corrected`` of data/gt_masks.h5);
2. ``tools/first_frame_prompts.py``: one box per athlete on each video's first frame;
3. ``hm-annotate pseudo-label`` with the shipped ``synthetic-demo`` pipeline (the CPU default,
   no weights to download): the PM store, made as a user would make it;
4. ``hm-annotate evaluate``: the PM's DAVIS J (and J&F) against the GTM;
5. ``hm-baseline compare``: GTM / PM / no masks with ``synthetic_cpu.yaml``, SEEDS seeds.

Prints the table with the PM's J beside it and writes OUT/table14.md. Every step resumes: re-run
the same command after an interruption. At the defaults (120 videos, 3 seeds) it takes about an
hour on 2 free CPU cores (pseudo-labelling ~25 min, the 9 training runs the rest).

    python benchmarks/table14_bench.py [--out table14_out] [--videos 120] [--seeds 3] [--epochs 15]
        [--jobs 2] [--frames 104] [--height 256] [--synth-seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HM = "from hm_annotate.cli import main; main()"
HB = "from baseline_model.cli import main; main()"


def step(title: str, args: list[str], env: dict[str, str], capture: bool = False) -> str:
    """Run one stage; stop the benchmark with its exit status when it fails."""
    print(f"\n== {title}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=REPO, text=True, stdout=subprocess.PIPE if capture else None)
    if proc.returncode:
        print(f"!! {title}: exit status {proc.returncode}", flush=True)
        sys.exit(proc.returncode)
    print(f"-- {title}: {time.perf_counter() - start:.1f} s", flush=True)
    return proc.stdout or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="table14_out")
    parser.add_argument("--videos", type=int, default=120)
    parser.add_argument("--frames", type=int, default=104)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--synth-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--config", default=str(REPO / "baseline_model" / "configs" / "synthetic_cpu.yaml"))
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    data, gtm, pm = out / "data", out / "data" / "gt_masks.h5", out / "pm.h5"
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    py = sys.executable
    started = time.perf_counter()

    step("1. synthetic dataset (GTM: exact masks)",
         [py, "-c", HM, "synth", str(data), "--videos", str(args.videos), "--seed", str(args.synth_seed),
          "--frames", str(args.frames), "--height", str(args.height)], env)
    prompts = out / "prompts.csv"
    step("2. first-frame prompts, one box per athlete",
         [py, "tools/first_frame_prompts.py", str(gtm), str(prompts)], env)
    step("3. pseudo-label (synthetic-demo, the shipped CPU default) -> PM",
         [py, "-c", HM, "pseudo-label", "--dataset-format", "finediving", "--data-root", str(data),
          "--out", str(pm), "--pipeline", "synthetic-demo", "--prompts", str(prompts), "--resume", "--quiet"],
         env)
    scores = json.loads(step("4. PM against GTM (DAVIS)",
                             [py, "-c", HM, "evaluate", str(pm), "--reference", str(gtm), "--json"], env,
                             capture=True))
    pm_j, pm_jf = scores["J_mean"], scores["JF_mean"]
    print(f"PM vs GTM over {scores['videos']} videos: J {pm_j:.3f}, J&F {pm_jf:.3f}", flush=True)
    table_path = out / "compare.md"
    step(f"5. compare GTM / PM / no masks, {args.seeds} seed(s), {args.epochs} epochs",
         [py, "-c", HB, "compare", "--config", args.config, "--dataset-format", "finediving",
          "--data-root", str(data), "--gtm", str(gtm), "--pm", str(pm), "--seeds", str(args.seeds),
          "--epochs", str(args.epochs), "--jobs", str(args.jobs), "--threads", "1", "--device", "cpu",
          "--runs", str(out / "runs"), "--out", str(table_path), "--json", str(out / "compare.json"),
          "--quiet"], env)
    table = table_path.read_text()
    report = (f"{table}\nPM: `pseudo-label --pipeline synthetic-demo` with first-frame box prompts; against "
              f"the exact masks (GTM) over {scores['videos']} videos: DAVIS J {pm_j:.3f}, J&F {pm_jf:.3f}. "
              f"{args.videos} synthetic videos (synth seed {args.synth_seed}); whole benchmark "
              f"{(time.perf_counter() - started) / 60:.1f} min (a resumed run counts only its own part).\n")
    (out / "table14.md").write_text(report)
    print("\n" + report, flush=True)


if __name__ == "__main__":
    main()
