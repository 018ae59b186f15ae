"""``hm-annotate evaluate`` on small stores written through the store API."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from hm_annotate.cli import cli
from hm_annotate.evaluate import boundary_f, jaccard
from hm_annotate.store import MaskStore
from tests.masks import ellipse_masks, layer_from_masks

MAIN = [sys.executable, "-c", "from hm_annotate.cli import main; main()"]
KEYS = {"J_mean", "F_mean", "JF_mean", "J_recall", "J_decay", "F_recall", "F_decay"}
KEYS |= {"per_video", "per_action_type"}


@pytest.fixture
def stores(tmp_path):
    """PRED (pseudo) and REF (corrected): video a exact, video b shifted and missing its first frame."""
    pred, ref = tmp_path / "pred.h5", tmp_path / "ref.h5"
    a, b = ellipse_masks(6, seed=1), ellipse_masks(5, seed=2)
    with MaskStore.open(ref, "a") as st:
        st.put("ev/a", "corrected", layer_from_masks(a), metadata={"action_type": "107b"})
        st.put("ev/b", "corrected", layer_from_masks(b), metadata={"action_type": "207c"})
    with MaskStore.open(pred, "a") as st:
        st.put("ev/a", "pseudo", layer_from_masks(a), metadata={"action_type": "107b"})
        st.put("ev/b", "pseudo", layer_from_masks(np.roll(b[1:], 3, axis=2), first_frame=1))
    aligned = np.zeros_like(b)
    aligned[1:] = np.roll(b[1:], 3, axis=2)
    return pred, ref, jaccard(aligned, b).mean(), boundary_f(aligned, b).mean()


def test_json_output_via_console_script(stores):
    pred, ref, j_b, f_b = stores
    args = ["evaluate", str(pred), "--reference", str(ref), "--json", "--task", "unsupervised"]
    out = subprocess.run([*MAIN, *args],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert KEYS <= set(result)
    assert result["per_video"]["ev/a"]["JF_mean"] == 1.0
    assert result["per_video"]["ev/b"]["J_mean"] == pytest.approx(j_b)
    assert result["per_video"]["ev/b"]["missing_frames"] == 1
    assert result["J_mean"] == pytest.approx((1.0 + j_b) / 2)
    assert result["F_mean"] == pytest.approx((1.0 + f_b) / 2)
    assert set(result["per_action_type"]) == {"107b", "207c"}


def test_table_output_and_video_filter(stores):
    pred, ref, j_b, _ = stores
    args = ["evaluate", str(pred), "--reference", str(ref), "--task", "unsupervised"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "1 reference frames in 1 videos have no prediction" in result.output
    for title in ("overall (mean over objects)", "per action type", "per video", "per object", "J&F"):
        assert title in result.output
    row_b = next(line for line in result.output.splitlines() if line.startswith("ev/b_1"))
    assert f"{j_b:.3f}" in row_b.split()

    args = ["evaluate", str(pred), "--reference", str(ref), "--videos", "ev/a", "--json"]
    only = CliRunner().invoke(cli, args)
    assert list(json.loads(only.output)["per_video"]) == ["ev/a"]


def test_layers_are_selectable(stores):
    pred, ref, _, _ = stores
    # ref's corrected layer against itself (curated = corrected there): a perfect score
    result = CliRunner().invoke(
        cli, ["evaluate", str(ref), "--reference", str(ref), "--pred-layer", "curated", "--json"]
    )
    assert json.loads(result.output)["JF_mean"] == 1.0


def test_errors_are_one_line(stores):
    pred, ref, _, _ = stores
    out = subprocess.run([*MAIN, "evaluate", str(pred), "--reference", str(ref), "--videos", "ev/zz"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: {ref}: video 'ev/zz' has no 'corrected' masks to compare against"
