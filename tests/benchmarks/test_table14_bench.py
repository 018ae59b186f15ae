"""benchmarks/table14_bench.py at toy size: synth -> real pseudo-label -> DAVIS J -> compare, and resuming."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hm_annotate.store import MaskStore

REPO = Path(__file__).resolve().parents[2]
TOY = ["--videos", "6", "--frames", "24", "--height", "64", "--synth-seed", "3", "--seeds", "1",
       "--epochs", "1",
       "--jobs", "1"]


def _bench(out: Path) -> str:
    proc = subprocess.run([sys.executable, "benchmarks/table14_bench.py", "--out", str(out), *TOY], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_table14_bench_runs_real_pseudo_labels_end_to_end_and_resumes(tmp_path):
    out = tmp_path / "t14"
    first = _bench(out)
    with MaskStore.open(out / "pm.h5") as pm, MaskStore.open(out / "data" / "gt_masks.h5") as gtm:
        videos = gtm.videos()
        assert len(videos) == 6 and all(pm.has(v, "pseudo") for v in videos)  # PM made by pseudo-label
    report = (out / "table14.md").read_text()
    for row in ("Uni-FineParser (GTM)", "Uni-FineParser (PM)", "Uni-FineParser (no masks)"):
        assert row in report
    assert "DAVIS J 0." in report and "PM vs GTM over 6 videos: J 0." in first
    assert len(list((out / "runs").glob("*/last.pt"))) == 3
    again = _bench(out)  # every stage resumes: nothing relabelled, nothing retrained
    assert "kept 6 already done" in again and "labelled 0 videos" in again
    assert (out / "table14.md").read_text().splitlines()[:5] == report.splitlines()[:5]
