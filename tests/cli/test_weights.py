"""``hm-annotate weights``: list and download (local files and a refused port, never the internet)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from click.testing import CliRunner

from hm_annotate.cli import cli
from hm_annotate.weights import SAM_CHECKPOINTS

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


def test_list_marks_present_checkpoints(tmp_path):
    name, _url, size, _sha = SAM_CHECKPOINTS["vit_b"]
    with open(tmp_path / name, "wb") as fh:  # sparse file of the real size: only sizes are checked
        fh.truncate(size)
    result = subprocess.run(
        [*MAIN, "weights", "list", "--dir", str(tmp_path)], capture_output=True, text=True, check=True
    )
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(lines) == {"vit_b", "vit_h", "vit_l"}
    assert lines["vit_b"].endswith("present")
    assert lines["vit_h"].endswith("missing")
    assert "sam_vit_l_0b3195.pth" in lines["vit_l"]


def test_download_from_mirror_prints_verified_path(tmp_path, monkeypatch):
    payload = os.urandom(3000)
    mirror = tmp_path / "mirror.bin"
    mirror.write_bytes(payload)
    name = SAM_CHECKPOINTS["vit_b"][0]
    entry = (name, "http://127.0.0.1:1/never-used", len(payload), hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(SAM_CHECKPOINTS, "vit_b", entry)
    out = tmp_path / "ckpt"
    result = CliRunner().invoke(
        cli, ["weights", "download", "vit_b", "--dir", str(out), "--url", mirror.as_uri()]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out / name)
    assert (out / name).read_bytes() == payload


def test_download_failure_is_one_line_error(tmp_path):
    result = subprocess.run(
        [*MAIN, "weights", "download", "vit_b", "--dir", str(tmp_path), "--url", "http://127.0.0.1:1/x"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: http://127.0.0.1:1/x")
    assert "Traceback" not in result.stderr


def test_unknown_model_is_rejected(tmp_path):
    result = CliRunner().invoke(cli, ["weights", "download", "vit_x", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "vit_x" in result.output
