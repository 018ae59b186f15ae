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
from baseline_model.weights import BackboneWeightsError
from tests.baseline_model.synthetic_videos import make_dataset, one_thread, tiny_config, write_store

REPO = Path(__file__).resolve().parents[2]
ON_CPU = {"device": "cpu", "progress": False}  # figures compared exactly are CPU figures
pytestmark = pytest.mark.usefixtures(one_thread.__name__)


@pytest.fixture(scope="module")
def videos():
    return make_dataset(n_train=6, n_test=3, length=14)


def _splits(cfg, videos, masks=None):
    train_v, test_v = videos
    return build_splits(train_v, test_v, cfg.data, seed=cfg.train.seed, masks=masks, progress=False)


def test_resume_from_last_continues_the_uninterrupted_trajectory(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 3})
    full = train(cfg, _splits(cfg, videos), tmp_path / "full", **ON_CPU)
    first = train(cfg, _splits(cfg, videos), tmp_path / "split", stop_after_epoch=1, **ON_CPU)
    assert first.epochs_done == 1 and read_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    resumed = train(cfg, _splits(cfg, videos), tmp_path / "split", resume=True, **ON_CPU)
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
    again = train(cfg, _splits(cfg, videos), tmp_path / "split", resume=True, **ON_CPU)
    assert again.epochs_done == 3


def test_checkpoint_refuses_another_config_and_existing_runs(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 1})
    train(cfg, _splits(cfg, videos), tmp_path / "run", **ON_CPU)
    other = tiny_config(train={"epochs": 1, "lr": 0.01}, model={"num_queries": 2})
    diffs = r"another config.*model.num_queries: 3 vs 2.*train.lr: 0.001 vs 0.01"
    with pytest.raises(CheckpointError, match=diffs):
        train(other, _splits(other, videos), tmp_path / "run", resume=True, **ON_CPU)
    with pytest.raises(CheckpointError, match="holds a run already"):
        train(cfg, _splits(cfg, videos), tmp_path / "run", **ON_CPU)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        train(cfg, _splits(cfg, videos), tmp_path / "fresh", resume=True, **ON_CPU)
    longer = tiny_config(train={"epochs": 2})  # more epochs may differ: extends the run
    extended = train(longer, _splits(longer, videos), tmp_path / "run", resume=True, **ON_CPU)
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
    result = train(cfg, _splits(cfg, videos, masks), tmp_path / "run", **ON_CPU)
    row = result.history[0]
    assert row["L_A"] > 0 and 0 <= row["attention_iou"] <= 1
    assert row["step"] == 3  # 6 pairs, batch 1, 2 per optimizer step
    no_masks = train(cfg, _splits(cfg, videos), tmp_path / "plain", **ON_CPU).history[0]
    assert no_masks["L_A"] == 0 and math.isnan(no_masks["attention_iou"])


def test_short_last_accumulation_group_still_steps(tmp_path, videos):
    cfg = tiny_config(train={"epochs": 1, "grad_accum": 4, "batch_size": 1})
    result = train(cfg, _splits(cfg, videos), tmp_path / "run", **ON_CPU)
    assert result.history[0]["step"] == 2  # 4 + 2


def test_loader_workers_do_not_change_the_run(tmp_path, videos):
    plain = tiny_config(train={"epochs": 1})
    workers = tiny_config(train={"epochs": 1, "num_workers": 2})
    a = train(plain, _splits(plain, videos), tmp_path / "a", **ON_CPU).history[0]
    b = train(workers, _splits(workers, videos), tmp_path / "b", **ON_CPU).history[0]
    assert a["L_E"] == pytest.approx(b["L_E"], rel=1e-6) and a["rho"] == pytest.approx(b["rho"], nan_ok=True)


def test_scheduler_warms_up_then_decays_to_zero_by_default():
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
    with pytest.raises(BackboneWeightsError, match="unknown keys.*Mixed_9z"):
        build_model(bad)
    del state["Mixed_9z.b0.conv3d.weight"]
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    build_model(bad)
    wrong = tiny_config(model={"i3d_weights": str(tmp_path / "rgb_imagenet.pt")},
                        data={"normalisation": "model_rgb"})
    with pytest.raises(BackboneWeightsError, match="expect 'i3d_rgb_imagenet' inputs"):
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
    result = train(cfg, splits, sys.argv[1], device="cpu", progress=False)  # gloo, whatever GPUs exist
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


# ----------------------------------------------------------------------------- devices


def test_cpu_device_and_cuda_without_cuda():
    from baseline_model.train import TrainError, resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device(None) == torch.device("cpu")
        with pytest.raises(TrainError, match="CUDA is not available"):
            resolve_device("cuda")


def test_more_processes_than_gpus_is_refused_in_one_line(monkeypatch):
    from baseline_model.train import TrainError, resolve_device

    # a one-GPU node as torch reports it; the second torchrun process asks for its GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    with pytest.raises(TrainError, match=r"needs cuda:1 but the machine has 1 GPU\(s\)") as info:
        resolve_device("cuda", local_rank=1)
    assert "\n" not in str(info.value) and "--nproc_per_node 1" in str(info.value)
    with pytest.raises(TrainError, match="needs cuda:1"):
        resolve_device(None, local_rank=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_index_less_cuda_trains_on_this_ranks_gpu_with_amp(tmp_path, videos):
    from baseline_model.train import resolve_device

    assert resolve_device("cuda") == torch.device("cuda", 0)
    cfg = tiny_config(train={"epochs": 2, "amp": "auto"})
    result = train(cfg, _splits(cfg, videos), tmp_path / "run", device="cuda", progress=False)
    for row in result.history:
        assert all(math.isfinite(row[k]) for k in ("L_A", "L_T", "L_E", "total"))


# ----------------------------------------------------------------------------- reference schedule, batch


def _lrs(cfg, steps_per_epoch: int, rates: list[float]) -> list[list[float]]:
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in rates]
    opt = torch.optim.SGD([{"params": [p], "lr": r} for p, r in zip(params, rates)], lr=rates[0])
    sched = make_scheduler(opt, cfg, steps_per_epoch)
    out = []
    for _ in range(cfg.train.epochs * steps_per_epoch):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    out.append([g["lr"] for g in opt.param_groups])
    return out


def test_reference_schedule_warms_up_from_and_decays_to_the_floor():
    cfg = tiny_config(train={"epochs": 10, "warmup_epochs": 2, "lr": 1e-3, "warmup_lr": 1e-4, "lr_min": 1e-4})
    lrs = _lrs(cfg, steps_per_epoch=3, rates=[1e-3, 1e-4, 0.0])
    heads, i3d, frozen = zip(*lrs)
    assert heads[0] == pytest.approx(1e-4 + 9e-4 / 6)  # first of 6 warm-up steps, from 1e-4
    assert heads[5] == pytest.approx(1e-3) and max(heads) == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(heads[5:], heads[6:]))
    assert heads[-1] == pytest.approx(1e-4)  # the floor after the schedule, not zero
    assert i3d == pytest.approx([1e-4] * len(i3d))  # the reference's I3D stays at 1e-4 throughout
    assert set(frozen) == {0.0}  # a group with rate zero stays frozen


def test_effective_batch_sets_the_accumulation(tmp_path, videos):
    from baseline_model.config import TrainConfigError

    cfg = tiny_config(train={"epochs": 1, "batch_size": 1, "effective_batch": 4})
    assert [cfg.train.accumulation(world) for world in (1, 2, 4)] == [4, 2, 1]
    with pytest.raises(TrainConfigError, match="not a multiple"):
        cfg.train.accumulation(3)
    with pytest.raises(TrainConfigError, match="not both"):
        tiny_config(train={"grad_accum": 2, "effective_batch": 4})
    # 6 pairs, batch 1, 4 per step: one full group and one short one
    assert train(cfg, _splits(cfg, videos), tmp_path / "run", **ON_CPU).history[0]["step"] == 2


def test_paper_config_refuses_a_random_resnet34_unless_allowed(tmp_path):
    from baseline_model.train import TrainError

    cfg = tiny_config(model={"sve_weights_required": True})
    with pytest.raises(TrainError, match="model.sve_weights_required: false"):
        build_model(cfg)
    assert build_model(cfg, load_weights=False) is not None  # checkpoints carry their weights
    allowed = tiny_config(model={"sve_weights_required": False})
    assert build_model(allowed) is not None


def test_a_step_that_loss_scaling_skips_leaves_the_schedule_alone():
    from baseline_model.train import _Loop

    param = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([param], lr=1.0)
    cfg = tiny_config(train={"epochs": 4, "warmup_epochs": 0})
    sched = make_scheduler(opt, cfg, steps_per_epoch=1)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    loop = _Loop(cfg, None, None, None, opt, sched, scaler, None, 0, 1, None)
    scaler.scale((param * math.inf).sum()).backward()  # an fp16 overflow: inf gradients
    assert not loop.optimizer_step() and param.item() == 1.0 and scaler.get_scale() == 2.0
    scaler.scale((param * 0.5).sum()).backward()
    assert loop.optimizer_step() and param.item() == pytest.approx(0.5)


def test_checkpoints_written_before_the_reference_keys_still_match_their_config():
    from baseline_model.train import config_differences

    cfg = tiny_config()
    old = cfg.to_dict()
    old["train"]["amp"] = False  # as older checkpoints recorded it
    for section, key in (("model", "i3d_freeze_bn"), ("train", "lr_min"), ("data", "resize_mode")):
        del old[section][key]
    assert config_differences(old, cfg.to_dict()) == []
    old["train"]["lr"] = 0.5
    assert config_differences(old, cfg.to_dict()) == ["train.lr: 0.5 vs 0.001"]
