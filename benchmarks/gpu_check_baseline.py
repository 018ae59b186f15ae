"""The baseline's GPU check in one run: tests, 2 epochs of the paper config with AMP, precision timings.

On the GPU machine (repository root, no network), within about 150 s:

    python benchmarks/gpu_check_baseline.py

1. ``pytest tests/baseline_model -x -q`` (in the background, on the CPU cores, while 2-3 use the GPU);
2. ``hm-annotate synth``: a few short FineDiving-format videos with exact masks;
3. ``hm-baseline train --device cuda`` with the paper config (uni_fineparser_finediving.yaml,
   ``train.amp: auto``, random ResNet34 as no weights are at hand) for 2 epochs, with the masks,
   then every logged loss (per step from TensorBoard, per epoch from log.csv) and whether all are finite;
4. ``benchmarks/model_bench.py --device cuda`` on the paper config at batch 8 and 2 in fp32, bf16
   and fp16: pairs/s, ratio to fp32, peak memory, losses finite.

``--tiny`` runs the same steps on the CPU at toy sizes (a scaled-down model with the paper's
training keys, fp32 and bf16 only, a few test files) to check the script itself.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "baseline_model" / "configs"
PAPER = CONFIGS / "uni_fineparser_finediving.yaml"
HM = "from hm_annotate.cli import main; main()"
HB = "from baseline_model.cli import main; main()"


def say(text: str) -> None:
    print(text, flush=True)


def run(args: list[str], timeout: float, env: dict[str, str]) -> tuple[int, float]:
    """Run a step, its output streamed; (exit status, seconds). A step over its time is stopped."""
    start = time.perf_counter()
    try:
        code = subprocess.run(args, timeout=max(timeout, 1), env=env, cwd=REPO).returncode
    except subprocess.TimeoutExpired:
        say(f"!! stopped after {timeout:.0f} s")
        code = 124
    return code, time.perf_counter() - start


def tiny_config(path: Path) -> Path:
    """The paper config's training keys on the synthetic_cpu model and geometry (CPU-sized)."""
    paper = yaml.safe_load(PAPER.read_text())
    small = yaml.safe_load((CONFIGS / "synthetic_cpu.yaml").read_text())
    small["model"].update(i3d_freeze_bn=True, sve_weights_required=True)
    small["data"].update(resize_mode="reference", dataset="finediving")
    small["train"] = {**paper["train"], "num_workers": 0, "eval_batch_size": 4}
    path.write_text(yaml.safe_dump(small, sort_keys=False))
    return path


def logged_losses(run_dir: Path) -> list[tuple[str, int, float]]:
    """(tag, step or epoch, value) of every loss the run logged: TensorBoard per step, log.csv per epoch."""
    out: list[tuple[str, int, float]] = []
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
        events.Reload()
        for tag in sorted(events.Tags()["scalars"]):
            if tag.startswith("train_step/L") or tag == "train_step/total":
                out += [(tag, e.step, e.value) for e in events.Scalars(tag)]
    except ImportError:
        say("(tensorboard is not installed: per-step losses not read)")
    with (run_dir / "log.csv").open() as f:
        for row in csv.DictReader(f):
            out += [(f"epoch/{k}", int(row["epoch"]), float(row[k])) for k in ("L_A", "L_T", "L_E", "total")]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="CPU, toy sizes: check the script itself")
    parser.add_argument("--budget", type=float, default=150, help="seconds for the whole check")
    parser.add_argument("--out", help="work directory (default: a new temporary one)")
    args = parser.parse_args()
    started = time.perf_counter()
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu_check_"))
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    py = sys.executable
    left = lambda: args.budget - (time.perf_counter() - started)  # noqa: E731
    import torch

    say(f"== torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}"
        + (f", {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}"
           if torch.cuda.is_available() else ""))
    if not args.tiny and not torch.cuda.is_available():
        say("no CUDA GPU here: run with --tiny for the CPU check")
        return 2
    device = "cpu" if args.tiny else "cuda"
    tests = (["tests/baseline_model/test_amp.py", "tests/baseline_model/test_config.py"] if args.tiny
             else ["tests/baseline_model"])
    pytest_log = out / "pytest.log"
    with pytest_log.open("w") as log:
        pytest = subprocess.Popen([py, "-m", "pytest", *tests, "-x", "-q", "-p", "no:cacheprovider"],
                                  stdout=log, stderr=subprocess.STDOUT, env={**env, "OMP_NUM_THREADS": "1"},
                                  cwd=REPO)
    say(f"== 1. pytest {' '.join(tests)} -x -q: started in the background (log {pytest_log})")

    say("== 2. synthetic FineDiving-format dataset")
    data = out / "data"
    videos, frames = ("6", "24") if args.tiny else ("10", "40")
    synth = [py, "-c", HM, "synth", str(data), "--videos", videos, "--seed", "3", "--frames", frames]
    code, secs = run(synth, min(30, left()), env)
    say(f"-- synth: exit {code}, {secs:.1f} s")

    config = tiny_config(out / "tiny_paper_train.yaml") if args.tiny else PAPER
    say(f"== 3. hm-baseline train --device {device}, {config.name}, 2 epochs, amp auto, with masks")
    run_dir = out / "run"
    code, secs = run([py, "-c", HB, "train", "--config", str(config), "--dataset-format", "finediving",
                      "--data-root", str(data), "--masks", str(data / "gt_masks.h5"), "--layer", "corrected",
                      "--allow-random-sve", "--epochs", "2", "--num-workers", "0" if args.tiny else "4",
                      "--device", device, "--out", str(run_dir), "--quiet"], min(75, left() - 40), env)
    say(f"-- train: exit {code}, {secs:.1f} s")
    if (run_dir / "log.csv").exists():
        losses = logged_losses(run_dir)
        for tag, step, value in losses:
            say(f"   {tag} @ {step}: {value:.6g}")
        finite = all(math.isfinite(v) for _, _, v in losses)
        say(f"-- {len(losses)} logged losses; every logged loss finite: {'yes' if finite else 'NO'}")

    say("== 4. model_bench: pairs/s, peak memory, losses finite")
    bench = [py, "benchmarks/model_bench.py"]
    if args.tiny:
        bench += [str(CONFIGS / "synthetic_cpu.yaml"), "--device", "cpu", "--batch", "1", "2",
                  "--precision", "fp32", "bf16", "--steps", "1", "--threads", "1"]
    else:
        bench += [str(PAPER), "--device", "cuda", "--batch", "8", "2", "--precision", "fp32", "bf16", "fp16",
                  "--steps", "3"]
    code, secs = run(bench, max(left() - 5, 10), env)
    say(f"-- model_bench: exit {code}, {secs:.1f} s")

    try:
        pytest.wait(timeout=max(left(), 1))
    except subprocess.TimeoutExpired:
        pytest.kill()
        pytest.wait()
        say("!! pytest stopped: over the budget")
    tail = pytest_log.read_text().strip().splitlines()
    say(f"== 1. pytest: exit {pytest.returncode}; last lines:")
    for line in tail[-15:]:
        say(f"   {line}")
    say(f"== done in {time.perf_counter() - started:.0f} s (budget {args.budget:.0f} s); work files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
