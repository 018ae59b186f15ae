"""I3D checkpoints in both published key layouts, torchvision ResNet34 weights, and bad checkpoints."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torchvision

from baseline_model.config import ModelConfig
from baseline_model.models import UniFineParser, build_model
from baseline_model.models.i3d import InceptionI3d
from baseline_model.weights import BackboneWeightsError, load_i3d_weights, load_resnet34_weights
from tests.baseline_model.tiny_models import one_thread  # noqa: F401 (autouse fixture)

BRANCH = {"b0": "branch_0", "b1a": "branch_1.0", "b1b": "branch_1.1", "b2a": "branch_2.0",
          "b2b": "branch_2.1", "b3b": "branch_3.1"}


def piergiaj_checkpoint(i3d: InceptionI3d, classes: int = 400) -> dict[str, torch.Tensor]:
    """pytorch-i3d's rgb_imagenet.pt layout: our names, logits, no num_batches_tracked (old torch)."""
    state = {k: v.clone() for k, v in i3d.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["logits.conv3d.weight"] = torch.randn(classes, i3d.out_channels, 1, 1, 1)
    state["logits.conv3d.bias"] = torch.randn(classes)
    return state


def model_rgb_checkpoint(i3d: InceptionI3d, classes: int = 400) -> dict[str, torch.Tensor]:
    """model_rgb.pth layout (kinetics_i3d_pytorch): conv3d_1a_7x7.batch3d..., mixed_3b.branch_1.0..."""
    state = {}
    for key, value in piergiaj_checkpoint(i3d, classes).items():
        if key.startswith("logits."):
            continue
        layer, *rest = key.split(".")
        rest = [BRANCH.get(part, "batch3d" if part == "bn" else part) for part in rest]
        state[".".join([layer.lower(), *rest])] = value
    state["conv3d_0c_1x1.conv3d.weight"] = torch.randn(classes, i3d.out_channels, 1, 1, 1)
    state["conv3d_0c_1x1.conv3d.bias"] = torch.randn(classes)
    return state


def _randomised(i3d: InceptionI3d) -> InceptionI3d:
    with torch.no_grad():
        for tensor in i3d.state_dict().values():
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    return i3d


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(x, y), name


def test_model_rgb_checkpoint_loads_with_imagenet_normalisation(tmp_path):
    source = _randomised(InceptionI3d())
    state = model_rgb_checkpoint(source)
    # the key names of the reference loaders (FineParser deletes exactly these two logits keys)
    assert len(state) == 57 * 5 + 2
    for key in ("conv3d_1a_7x7.conv3d.weight", "conv3d_2c_3x3.batch3d.running_var",
                "mixed_3b.branch_0.conv3d.weight", "mixed_5b.branch_2.1.conv3d.weight",
                "mixed_4f.branch_3.1.batch3d.bias", "conv3d_0c_1x1.conv3d.bias"):
        assert key in state
    path = tmp_path / "model_rgb.pth"
    torch.save(state, path)
    model = UniFineParser(ModelConfig(sve=False))
    assert load_i3d_weights(model, path) == "model_rgb"
    _assert_same_weights(source, model.i3d)
    assert {m.eps for m in model.i3d.modules() if isinstance(m, torch.nn.BatchNorm3d)} == {1e-5}


def test_piergiaj_checkpoint_loads_with_minus_one_to_one_inputs(tmp_path):
    source = _randomised(InceptionI3d(0.125))
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(piergiaj_checkpoint(source), path)
    target = InceptionI3d(0.125)
    assert load_i3d_weights(target, path) == "i3d_rgb_imagenet"
    _assert_same_weights(source, target)
    assert {m.eps for m in target.modules() if isinstance(m, torch.nn.BatchNorm3d)} == {1e-3}
    x = torch.randn(1, 3, 8, 32, 32)
    torch.testing.assert_close(target.eval()(x), source.eval()(x))


def test_unknown_missing_and_mismatched_keys_are_named(tmp_path):
    source = InceptionI3d(0.125)
    path = tmp_path / "ckpt.pt"
    state = piergiaj_checkpoint(source)
    state["Mixed_3b.b4.conv3d.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(BackboneWeightsError, match=re.escape("unknown keys [Mixed_3b.b4.conv3d.weight]")):
        load_i3d_weights(InceptionI3d(0.125), path)
    state = model_rgb_checkpoint(source)
    state["mixed_3b.branch_9.conv3d.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(BackboneWeightsError, match="unknown key 'mixed_3b.branch_9.conv3d.weight'"):
        load_i3d_weights(InceptionI3d(0.125), path)
    state = piergiaj_checkpoint(source)
    del state["Mixed_5c.b3b.bn.running_var"]
    torch.save(state, path)
    with pytest.raises(BackboneWeightsError, match=re.escape("missing keys [Mixed_5c.b3b.bn.running_var]")):
        load_i3d_weights(InceptionI3d(0.125), path)
    torch.save(piergiaj_checkpoint(source), path)
    mismatch = r"shape mismatches \[Conv3d_1a_7x7.bn.bias \(8,\) vs \(16,\)"
    with pytest.raises(BackboneWeightsError, match=mismatch):
        load_i3d_weights(InceptionI3d(0.25), path)


def test_files_that_are_not_i3d_checkpoints(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(BackboneWeightsError, match="not an I3D checkpoint"):
        load_i3d_weights(InceptionI3d(0.125), path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(BackboneWeightsError, match="cannot read checkpoint"):
        load_i3d_weights(InceptionI3d(0.125), path)
    with pytest.raises(BackboneWeightsError, match="cannot read checkpoint"):
        load_i3d_weights(InceptionI3d(0.125), tmp_path / "absent.pt")
    path.write_bytes(np.random.default_rng(198).bytes(2048))  # makes torch's unpickler raise KeyError
    with pytest.raises(BackboneWeightsError, match="cannot read checkpoint"):
        load_i3d_weights(InceptionI3d(0.125), path)


def test_torchvision_resnet34_weights_load_into_the_sve(tmp_path):
    reference = torchvision.models.resnet34()
    path = tmp_path / "resnet34.pth"
    torch.save(reference.state_dict(), path)  # with its fc, as torchvision ships it
    model = UniFineParser(ModelConfig(i3d_width=0.125, sap=False, tap=False))
    load_resnet34_weights(model, path)
    reference.fc = torch.nn.Identity()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model.sve.resnet.eval()(x), reference.eval()(x))
    small = UniFineParser(ModelConfig(i3d_width=0.125, sve_width=0.5, sap=False, tap=False))
    with pytest.raises(BackboneWeightsError, match="shape mismatches"):
        load_resnet34_weights(small, path)


def test_build_model_loads_weights_and_checks_the_normalisation(tmp_path):
    path = tmp_path / "rgb_imagenet.pt"
    source = _randomised(InceptionI3d(0.125))
    torch.save(piergiaj_checkpoint(source), path)
    cfg = ModelConfig(i3d_width=0.125, sve=False, i3d_weights=str(path),
                      input_normalisation="i3d_rgb_imagenet")
    _assert_same_weights(source, build_model(cfg).i3d)
    cfg.input_normalisation = "model_rgb"
    with pytest.raises(BackboneWeightsError, match="expect data.normalisation 'i3d_rgb_imagenet'"):
        build_model(cfg)


def test_fineparser_best_pth_layout_loads(tmp_path):
    """FineParser's trained checkpoint: nested module dicts, ``module.backbone.`` keys, numpy floats."""
    source = _randomised(InceptionI3d(0.125))
    base = {f"module.backbone.{k}": v for k, v in model_rgb_checkpoint(source).items()}
    best = {"base_model": base, "psnet_model": {"module.fc.weight": torch.randn(3, 3)},
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
            "epoch": 254, "epoch_best_aqa": 254, "rho_best": np.float64(0.9435), "L2_min": np.float64(0.2),
            "RL2_min": 0.0025}
    path = tmp_path / "best.pth"
    torch.save(best, path)
    model = UniFineParser(ModelConfig(i3d_width=0.125, sve=False))
    assert load_i3d_weights(model, path) == "model_rgb"
    _assert_same_weights(source, model.i3d)
    torch.save({**best, "base_model": {"module.backbone.unknown.weight": torch.zeros(1)}}, path)
    with pytest.raises(BackboneWeightsError, match="not an I3D checkpoint"):
        load_i3d_weights(model, path)
