"""Damaged and hostile stores, as a fuzz of the CLI found them: each one a small valid store
patched in place with h5py the way an attacker or a broken disk would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import h5py
import numpy as np

from tests.masks import make_store

REPO = Path(__file__).resolve().parents[1]
# runs summing past 2**64: passed the old counts check, then numpy's repeat crashed on it
OVERFLOW_COUNTS = "PPb3" + "o" * 11 + "?" + "020N" * 15 + "02"


def store_with_id(path: Path, video_id: str) -> Path:
    """A valid store whose only video is then renamed to ``video_id`` (no check on the way)."""
    make_store(path, {"clip": 3})
    with h5py.File(path, "r+") as f:
        f["videos"].move("clip", quote(video_id, safe=""))
        f["videos"][quote(video_id, safe="")].attrs["video_id"] = video_id
    return path


def store_with_counts(path: Path, counts: bytes, size: tuple[int, int] = (256, 456)) -> Path:
    """A store of one video ``clip`` with one frame (100) whose one object has these counts bytes."""
    make_store(path, {"clip": 1}, h=size[0], w=size[1])
    with h5py.File(path, "r+") as f:
        g = f["videos/clip/pseudo"]
        del g["counts"], g["counts_offsets"]
        g.create_dataset("counts", data=np.frombuffer(counts, np.uint8))
        g.create_dataset("counts_offsets", data=np.array([0, len(counts)], np.int64))
    return path


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``hm-annotate ARGS`` in a subprocess with a time limit (a hang fails the test, not the suite)."""
    return subprocess.run(
        [sys.executable, "-c", "from hm_annotate.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a failed command (asserts no traceback, no signal)."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]
