"""Run ``hm-annotate`` as users do: a separate process through the console entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    """``hm-annotate ARGS...`` in a subprocess; returns its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-c", "from hm_annotate.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
