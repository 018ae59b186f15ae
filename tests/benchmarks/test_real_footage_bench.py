"""The real-footage benchmark on a few frames of one shared clip: it runs the shipped CPU default
end to end and prints a row of figures a person can trust (skipped where ../shared is absent)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOOTAGE = ROOT.parent / "shared" / "real-footage"


def test_real_footage_bench_scores_a_shared_clip():
    if not (FOOTAGE / "frames" / "lucia").is_dir():
        pytest.skip(f"shared real footage not found at {FOOTAGE}: benchmark not run")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "benchmarks/real_footage_bench.py", "--root", str(FOOTAGE), "--clips", "lucia",
         "--frames", "8", "--modes", "prompts"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True,
    ).stdout  # fmt: skip
    row = re.search(r"^  lucia +([0-9.]+) +([0-9.]+) +([0-9.]+) ", out, re.M)
    assert row, out
    # the woman walking in the park: the pose prior's mask from a first-frame box (0.91 on 60 frames)
    assert float(row.group(1)) > 0.8, out


def test_real_footage_bench_says_when_the_footage_is_absent(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "benchmarks/real_footage_bench.py", "--root", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "real footage not found" in out
