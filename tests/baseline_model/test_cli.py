"""hm-baseline on a synthetic FineDiving-format dataset: summary, train, eval, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from baseline_model.cli import main
from baseline_model.config import load_config
from baseline_model.models.uni_fineparser import UniFineParser
from baseline_model.summary import parameter_summary
from hm_annotate.store import MaskStore
from tests.baseline_model.synthetic_videos import one_thread, tiny_config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures(one_thread.__name__)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """10 synthetic dives (7 train / 3 test), 64 x 114 frames, exact masks in gt_masks.h5."""
    from hm_annotate.synth import generate

    root = tmp_path_factory.mktemp("synth")
    generate(root, videos=10, seed=1, height=64, frames=24)
    return root


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    cfg = tiny_config(data={"resize": [57, 32]}, train={"epochs": 2}).to_dict()
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_counts_parameters_per_component(capsys):
    cfg_path = REPO / "baseline_model" / "configs" / "synthetic_cpu.yaml"
    code, out, _ = _run(capsys, "summary", "--config", str(cfg_path), "--json")
    assert code == 0
    counts = json.loads(out)
    expected = parameter_summary(UniFineParser(load_config(cfg_path).model))
    assert counts == expected
    assert counts["total_params"] == sum(counts[k] for k in ("i3d", "sap", "sve", "tap", "regressor"))
    code, out, _ = _run(capsys, "summary", "--config", str(cfg_path))
    assert code == 0 and "total_params" in out and f"{expected['total_params']:,}" in out


def test_train_then_eval_with_masks(capsys, tmp_path, dataset, config):
    run = tmp_path / "run"
    code, out, err = _run(capsys, "train", "--config", str(config), "--dataset-format", "finediving",
                          "--data-root", str(dataset), "--masks", str(dataset / "gt_masks.h5"), "--layer",
                          "corrected", "--out", str(run), "--epochs", "1", "--quiet")
    assert code == 0, err
    assert "1/1 epochs" in out and (run / "best.pt").exists() and (run / "log.csv").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["use_masks"] and saved["data"]["mask_store"].endswith("gt_masks.h5")
    assert saved["train"]["epochs"] == 1
    code, out, err = _run(capsys, "eval", "--checkpoint", str(run / "best.pt"), "--json", "--quiet")
    assert code == 0, err
    report = json.loads(out)
    assert report["videos"] == 3 and report["exemplars"] == 2 and len(report["predictions"]) == 3
    assert 0 <= report["attention_iou"] <= 1 and -1 <= report["rho"] <= 1
    # the config changed (--lr): resuming is refused with one line
    code, _, err = _run(capsys, "train", "--config", str(config), "--data-root", str(dataset), "--masks",
                        str(dataset / "gt_masks.h5"), "--out", str(run), "--resume", "--lr", "0.5", "--quiet")
    assert code == 1 and err.startswith("error: ") and "train.lr" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_masks_fail_listing_ids_unless_allowed(capsys, tmp_path, dataset, config):
    partial = tmp_path / "partial.h5"
    with MaskStore.open(dataset / "gt_masks.h5") as src, MaskStore.open(partial, mode="a") as dst:
        kept = src.videos()[:6]
        for vid in kept:
            dst.put(vid, "corrected", src.read(vid, "corrected"))
        dropped = src.videos()[6:]
    args = ["train", "--config", str(config), "--data-root", str(dataset), "--masks", str(partial),
            "--layer", "corrected", "--epochs", "1", "--quiet"]
    code, _, err = _run(capsys, *args, "--out", str(tmp_path / "a"))
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert f"lacks masks for {len(dropped)} video(s)" in err and dropped[0] in err
    assert not (tmp_path / "a").exists()
    code, _, err = _run(capsys, *args, "--out", str(tmp_path / "b"), "--allow-missing-masks")
    assert code == 0 and f"warning: {len(dropped)} video(s)" in err


def test_bad_input_is_one_line(capsys, tmp_path, dataset, config):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {sap_stage: 7}\n")
    code, _, err = _run(capsys, "summary", "--config", str(bad))
    assert code == 1 and "sap_stage" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "eval", "--checkpoint", str(config), "--data-root", str(dataset))
    assert code == 1 and err.startswith("error: ") and "checkpoint" in err
    code, _, err = _run(capsys, "train", "--config", str(config), "--data-root", str(tmp_path), "--out",
                        str(tmp_path / "r"), "--quiet")
    assert code == 1 and err.startswith("error: ")


def test_console_script_trains_by_subprocess(tmp_path, dataset, config):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", "from baseline_model.cli import main; main()", "train",
         "--config", str(config), "--dataset-format", "finediving", "--data-root", str(dataset),
         "--out", str(run), "--epochs", "1", "--threads", "1", "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1/1 epochs" in proc.stdout and (run / "last.pt").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["use_masks"] is False  # no store given: the run records it trained without masks


def test_degrade_masks_makes_a_pseudo_layer(capsys, tmp_path, dataset):
    code, out, err = _run(capsys, "degrade-masks", str(dataset / "gt_masks.h5"),
                          "--out", str(tmp_path / "pm.h5"), "--seed", "3", "--quiet")
    assert code == 0, err
    assert "10 videos" in out and "layer pseudo" in out and "mean IoU with corrected" in out
    with MaskStore.open(tmp_path / "pm.h5") as st:
        assert len(st.videos()) == 10 and all(st.has(v, "pseudo") for v in st.videos())


def test_paper_style_config_needs_resnet34_weights_or_says_random(capsys, tmp_path, dataset):
    path = tmp_path / "needs_sve.yaml"
    cfg = tiny_config(data={"resize": [57, 32]}, model={"sve_weights_required": True},
                      train={"epochs": 1}).to_dict()
    path.write_text(yaml.safe_dump(cfg))
    args = ["train", "--config", str(path), "--dataset-format", "finediving", "--data-root", str(dataset),
            "--device", "cpu", "--quiet"]
    code, _, err = _run(capsys, *args, "--out", str(tmp_path / "refused"))
    assert code == 2 and "--allow-random-sve" in err  # an option mistake: click's usage message
    assert not (tmp_path / "refused").exists()
    code, out, err = _run(capsys, *args, "--out", str(tmp_path / "random"), "--allow-random-sve")
    assert code == 0, err
    assert "1/1 epochs" in out
