"""The GPU benchmark's CPU smoke run: every section runs and prints its figures (a tiny SAM, one
short synthetic video), so the script cannot break unnoticed before it meets a GPU."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_bench_runs_on_cpu_with_tiny_sizes():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "benchmarks/gpu_bench.py", "--tiny", "--device", "cpu", "--budget", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    cosines = re.findall(r"^  fast (fp32|fp16|bf16) +([0-9.]+) ([0-9.]+)$", out, re.M)
    assert len(cosines) == 3 and all(float(lo) >= 0.999 for _, lo, _ in cosines), out
    for kind in ("fast", "stock"):
        for p in ("fp32", "fp16", "bf16"):
            assert re.search(rf"^  {kind} +{p} batch 2: +[0-9.]+ img/s$", out, re.M), out
    assert re.search(r"\{'precision': 'fp32'\}: 25 frames in .* frames/s; decode", out), out
    assert re.search(r"pipeline / fast encoder alone \(fp32, batch 2\): .* = [0-9.]+x", out), out
