"""``hm-annotate merge`` on shard stores written through the store API."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from hm_annotate.cli import cli
from hm_annotate.store import MaskStore
from tests.masks import ellipse_masks, layer_from_masks

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]


def shard(path, seeds: dict[str, int]):
    with MaskStore.open(path, "a") as st:
        for vid, seed in seeds.items():
            data = layer_from_masks(ellipse_masks(4, seed=seed))
            st.put(vid, "pseudo", data, metadata={"action_type": "107b"})
    return str(path)


def test_merge_shards_via_console_script(tmp_path):
    a = shard(tmp_path / "s1.h5", {"ev/1": 1, "ev/2": 2})
    b = shard(tmp_path / "s2.h5", {"ev/3": 3, "ev/2": 2})
    out = tmp_path / "all.h5"
    done = subprocess.run([*MAIN, "merge", str(out), a, b], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        f"{out}: 3 videos; wrote 3 pseudo and 0 corrected layers (12 frames) from 2 parts",
        "1 identical duplicate layers were written once",
    ]
    with MaskStore.open(out) as st:
        assert st.videos() == ["ev/1", "ev/2", "ev/3"]


def test_conflict_is_a_one_line_error_and_out_is_not_created(tmp_path):
    a = shard(tmp_path / "s1.h5", {"ev/1": 1})
    b = shard(tmp_path / "s2.h5", {"ev/1": 5})
    out = tmp_path / "all.h5"
    done = subprocess.run([*MAIN, "merge", str(out), a, b], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: video ev/1: 'pseudo' masks differ between")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_force_and_json(tmp_path):
    out = shard(tmp_path / "all.h5", {"ev/1": 1})
    b = shard(tmp_path / "s2.h5", {"ev/2": 2})
    refused = CliRunner().invoke(cli, ["merge", out, b])
    assert refused.exit_code == 2 and "pass --force" in refused.output  # an option mistake
    result = CliRunner().invoke(cli, ["merge", out, b, "--force", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["videos"] == 2 and summary["written"]["pseudo"] == 1
    assert CliRunner().invoke(cli, ["merge", out]).exit_code == 2  # at least one part is required
