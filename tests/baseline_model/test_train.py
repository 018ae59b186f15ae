"""Training loop: resume continues the same trajectory, checkpoints guard their config, logs, DDP, weights."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from baseline_model.data import MaskSource, build_splits
from baseline_model.train import (
    CheckpointError,
    build_model,
    checkpoint_config,
    load_model,
    make_scheduler,
    read_checkpoint,
    train,
)
from baseline_model.weights import WeightsError
from tests.baseline_model.synthetic_videos import make_dataset, one_thread, tiny_config, write_store

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures(one_thread.__name__)


@pytest.fixture(scope="module")
def videos():
    return make_dataset(n_train=6, n_test=3, length=14)


def _splits(cfg, videos, masks=None):
    train_v, test_v = videos
    return build_splits(train_v, test_v, cfg.data, seed=cfg.train.seed, masks=masks, progress=False)


def test_resume_from_last_continues_the_uninterrupted_trajectory(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 3})
    full = train(cfg, _splits(cfg, videos), tmp_path / "full", progress=False)
    first = train(cfg, _splits(cfg, videos), tmp_path / "split", stop_after_epoch=1, progress=False)
    assert first.epochs_done == 1 and read_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    resumed = train(cfg, _splits(cfg, videos), tmp_path / "split", resume=True, progress=False)
    assert resumed.epochs_done == 3 and [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for a, b in zip(full.history, resumed.history):
        for key in ("L_E", "L_T", "total", "rho", "rl2", "lr", "step"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6, nan_ok=True), (a["epoch"], key)
    assert full.history[0]["L_E"] != pytest.approx(full.history[2]["L_E"], rel=1e-6)  # it trained
    rows = list(csv.DictReader((tmp_path / "split" / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "split" / "tb").iterdir())
    best = read_checkpoint(tmp_path / "split" / "best.pt")
    assert best["epoch"] == resumed.best["epoch"] and best["best"]["rho"] == resumed.best["rho"]
    ckpt = read_checkpoint(tmp_path / "split" / "last.pt")
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config"} <= set(ckpt)
    # nothing more to do: resuming a finished run returns its history without training
    again = train(cfg, _splits(cfg, videos), tmp_path / "split", resume=True, progress=False)
    assert again.epochs_done == 3


def test_checkpoint_refuses_another_config_and_existing_runs(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 1})
    train(cfg, _splits(cfg, videos), tmp_path / "run", progress=False)
    other = tiny_config(train={"epochs": 1, "lr": 0.01}, model={"num_queries": 2})
    diffs = r"another config.*model.num_queries: 3 vs 2.*train.lr: 0.001 vs 0.01"
    with pytest.raises(CheckpointError, match=diffs):
        train(other, _splits(other, videos), tmp_path / "run", resume=True, progress=False)
    with pytest.raises(CheckpointError, match="holds a run already"):
        train(cfg, _splits(cfg, videos), tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        train(cfg, _splits(cfg, videos), tmp_path / "fresh", resume=True, progress=False)
    longer = tiny_config(train={"epochs": 2})  # more epochs may differ: extends the run
    extended = train(longer, _splits(longer, videos), tmp_path / "run", resume=True, progress=False)
    assert extended.epochs_done == 2
    assert checkpoint_config(tmp_path / "run" / "last.pt").train.epochs == 2
    model, loaded_cfg, _ = load_model(tmp_path / "run" / "best.pt")
    assert loaded_cfg.model.num_queries == 3 and isinstance(model, torch.nn.Module)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an hm-baseline checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")


def test_training_with_masks_uses_the_attention_loss(tmp_path, videos):
    write_store(tmp_path / "m.h5", [*videos[0], *videos[1]])
    cfg = tiny_config(train={"epochs": 1, "grad_accum": 2, "batch_size": 1})
    masks = MaskSource(str(tmp_path / "m.h5"), "corrected")
    result = train(cfg, _splits(cfg, videos, masks), tmp_path / "run", progress=False)
    row = result.history[0]
    assert row["L_A"] > 0 and 0 <= row["attention_iou"] <= 1
    assert row["step"] == 3  # 6 pairs, batch 1, 2 per optimizer step
    no_masks = train(cfg, _splits(cfg, videos), tmp_path / "plain", progress=False).history[0]
    assert no_masks["L_A"] == 0 and math.isnan(no_masks["attention_iou"])


def test_short_last_accumulation_group_still_steps(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 1, "grad_accum": 4, "batch_size": 1})
    assert train(cfg, _splits(cfg, videos), tmp_path / "run", progress=False).history[0]["step"] == 2  # 4 + 2


def test_loader_workers_do_not_change_the_run(tmp_path, videos):
    plain = tiny_config(train={"epochs": 1})
    workers = tiny_config(train={"epochs": 1, "num_workers": 2})
    a = train(plain, _splits(plain, videos), tmp_path / "a", progress=False).history[0]
    b = train(workers, _splits(workers, videos), tmp_path / "b", progress=False).history[0]
    assert a["L_E"] == pytest.approx(b["L_E"], rel=1e-6) and a["rho"] == pytest.approx(b["rho"], nan_ok=True)


def test_scheduler_warms_up_then_decays_to_zero():
    cfg = tiny_config(train={"epochs": 4, "warmup_epochs": 1, "lr": 1.0})
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, cfg, steps_per_epoch=2)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:2] == [0.5, 1.0] and lrs[2] == 1.0
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])) and opt.param_groups[0]["lr"] == pytest.approx(0.0)


def test_learning_rate_groups_follow_the_paper(videos):
    from baseline_model.train import make_optimizer

    cfg = tiny_config(train={"lr": 1e-3, "lr_backbone": 0.1, "lr_sve": 1.0, "lr_tau": 0.1})
    groups = {g["name"]: g["lr"] for g in make_optimizer(build_model(cfg), cfg).param_groups}
    assert groups == pytest.approx({"i3d": 1e-4, "sve": 1e-3, "tau": 1e-4, "head": 1e-3})


def test_weights_with_unknown_keys_or_the_wrong_normalisation_are_refused(tmp_path):
    from baseline_model.models.i3d import InceptionI3d

    cfg = tiny_config()
    state = InceptionI3d(cfg.model.i3d_width).state_dict()
    state["Mixed_9z.b0.conv3d.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    bad = tiny_config(model={"i3d_weights": str(tmp_path / "rgb_imagenet.pt")},
                      data={"normalisation": "i3d_rgb_imagenet"})
    with pytest.raises(WeightsError, match="unknown keys.*Mixed_9z"):
        build_model(bad)
    del state["Mixed_9z.b0.conv3d.weight"]
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    build_model(bad)
    wrong = tiny_config(model={"i3d_weights": str(tmp_path / "rgb_imagenet.pt")},
                        data={"normalisation": "model_rgb"})
    with pytest.raises(WeightsError, match="expect 'i3d_rgb_imagenet' inputs"):
        build_model(wrong)


DDP_SCRIPT = textwrap.dedent("""
    import os, sys, json
    sys.path.insert(0, {repo!r})
    from baseline_model.data import build_splits
    from baseline_model.train import train
    from tests.baseline_model.synthetic_videos import make_dataset, tiny_config

    cfg = tiny_config(train={{"epochs": 2, "batch_size": 2}})
    train_v, test_v = make_dataset(n_train=8, n_test=3, length=14)
    splits = build_splits(train_v, test_v, cfg.data, seed=0, progress=False)
    result = train(cfg, splits, sys.argv[1], progress=False)
    with open(os.path.join(sys.argv[1], f"rank{{os.environ['RANK']}}.json"), "w") as f:
        json.dump([r["step"] for r in result.history] + [result.history[-1]["L_E"]], f)
""")


def test_ddp_with_two_gloo_processes(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT.format(repo=str(REPO)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--standalone", str(script), str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    import json

    rank0 = json.loads((tmp_path / "run" / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "run" / "rank1.json").read_text())
    assert rank0[:2] == [2, 4]  # 8 pairs over 2 ranks at batch 2: 2 steps per epoch (4 on one process)
    assert rank0 == rank1  # metrics are reduced over ranks, identical everywhere
    ckpt = read_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["epoch"] == 2 and len(ckpt["rng"]) == 2
