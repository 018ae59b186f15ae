"""Loading the pretrained I3D and ResNet34 weights the field uses into our modules.

I3D checkpoints come in two key layouts:

* ``model_rgb.pth`` (hassony2's kinetics_i3d_pytorch conversion, used by CoRe / TSA / FineParser):
  ``conv3d_1a_7x7.conv3d.weight``, ``conv3d_1a_7x7.batch3d.running_mean``,
  ``mixed_3b.branch_0.conv3d.weight``, ``mixed_3b.branch_1.0...`` / ``branch_1.1``,
  ``branch_2.0`` / ``branch_2.1``, ``branch_3.1`` (branch_3.0 is the pool), logits
  ``conv3d_0c_1x1.conv3d.{weight,bias}``. The reference loaders feed it ImageNet mean/std inputs
  and run its BatchNorm with PyTorch's default eps 1e-5.
* piergiaj's ``rgb_imagenet.pt``: our own names (``Conv3d_1a_7x7.conv3d.weight``,
  ``Conv3d_1a_7x7.bn.running_mean``, ``Mixed_3b.b1a...``), logits ``logits.conv3d.{weight,bias}``,
  inputs in [-1, 1], BatchNorm eps 1e-3.

A FineParser ``best.pth`` (the reference's trained checkpoint) nests its modules' state dicts under
names (``base_model``, ``psnet_model``, ...) beside ``epoch`` and the optimizer; its I3D is
``base_model`` in the model_rgb layout with ``module.`` (DataParallel) and ``backbone.`` (its
wrapper) key prefixes, which are stripped. Its best rho and L2 are numpy floats, which
``weights_only`` loading accepts once numpy's scalar type is allowed (data only, no code).

The logits are dropped; any other key we do not know, any key we miss, or any shape that differs
raises :class:`BackboneWeightsError` naming them. ``num_batches_tracked`` may be absent (old checkpoints).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hm_annotate.errors import HMError
from hm_annotate.torch_files import UnreadableTorchFile, load_torch_file

MODEL_RGB, PIERGIAJ = "model_rgb", "i3d_rgb_imagenet"  # format names = input normalisation names
_BN_EPS = {MODEL_RGB: 1e-5, PIERGIAJ: 1e-3}
_LOGITS = {MODEL_RGB: "conv3d_0c_1x1.", PIERGIAJ: "logits."}
_BRANCHES = {"branch_0": "b0", "branch_1.0": "b1a", "branch_1.1": "b1b", "branch_2.0": "b2a",
             "branch_2.1": "b2b", "branch_3.1": "b3b"}
_MODEL_RGB_KEY = re.compile(r"^(conv3d_\w+?|mixed_\w+?)\.(?:(branch_\d(?:\.\d)?)\.)?(conv3d|batch3d)\.(\w+)$")


class BackboneWeightsError(HMError):
    """A checkpoint that does not fit the module it is loaded into."""


def load_i3d_weights(model_or_backbone: nn.Module, path: str | Path) -> str:
    """Load an I3D checkpoint into an InceptionI3d (or a model with an ``i3d`` attribute).

    Returns the input normalisation the weights expect: ``"model_rgb"`` (ImageNet mean/std) or
    ``"i3d_rgb_imagenet"`` ([-1, 1]) - the names ``data.normalisation`` takes.
    """
    i3d = getattr(model_or_backbone, "i3d", model_or_backbone)
    state = _read(path)
    fmt = _detect(state, path)
    state = {k: v for k, v in state.items() if not k.startswith(_LOGITS[fmt])}
    if fmt == MODEL_RGB:
        state = {_rename_model_rgb(k, path): v for k, v in state.items()}
    _load_checked(i3d, state, path)
    for module in i3d.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.eps = _BN_EPS[fmt]
    return fmt


def load_resnet34_weights(module: nn.Module, path: str | Path) -> None:
    """Load torchvision's resnet34 state dict (``fc`` dropped) into the SVE ResNet.

    ``module`` is the model, its StaticVisualEncoder, or the ResNet itself.
    """
    resnet = getattr(getattr(module, "sve", module), "resnet", module)
    state = {k: v for k, v in _read(path).items() if not k.startswith("fc.")}
    _load_checked(resnet, state, path)


def _numpy_scalars() -> list[Any]:
    """numpy scalar and dtype globals, under numpy 2's and numpy 1's module names."""
    core = getattr(np, "_core", None) or np.core
    names = ("Float64DType", "Float32DType", "Int64DType", "Int32DType")
    dtypes = [getattr(np.dtypes, name) for name in names]
    scalar = core.multiarray.scalar
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *dtypes]


def _read(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        with torch.serialization.safe_globals(_numpy_scalars()):
            state = load_torch_file(path)
    except UnreadableTorchFile as exc:
        raise BackboneWeightsError(f"{path}: cannot read checkpoint ({exc.reason})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if isinstance(state, dict) and isinstance(state.get("base_model"), dict):  # FineParser best.pth
        state = {_strip(k, ("module.", "backbone.")): v for k, v in state["base_model"].items()}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneWeightsError(f"{path}: not a state dict of tensors")
    return state


def _strip(key: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        key = key.removeprefix(prefix)
    return key


def _detect(state: dict[str, Any], path: str | Path) -> str:
    if "conv3d_1a_7x7.conv3d.weight" in state:
        return MODEL_RGB
    if "Conv3d_1a_7x7.conv3d.weight" in state:
        return PIERGIAJ
    sample = sorted(state)[:3]
    raise BackboneWeightsError(f"{path}: not an I3D checkpoint in model_rgb.pth or piergiaj format "
                       f"(no conv3d_1a_7x7 / Conv3d_1a_7x7 weights; keys start {sample})")


def _rename_model_rgb(key: str, path: str | Path) -> str:
    match = _MODEL_RGB_KEY.match(key)
    if match is None or (match[2] is not None and match[2] not in _BRANCHES):
        raise BackboneWeightsError(f"{path}: unknown key {key!r} for a model_rgb.pth checkpoint")
    layer, branch, kind, param = match.groups()
    prefix, suffix = layer.split("_", 1)
    name = f"{prefix.capitalize()}_{suffix}"  # conv3d_1a_7x7 -> Conv3d_1a_7x7, mixed_3b -> Mixed_3b
    parts = [name, *([_BRANCHES[branch]] if branch else []), "bn" if kind == "batch3d" else "conv3d", param]
    return ".".join(parts)


def _load_checked(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    own = module.state_dict()
    unknown = sorted(set(state) - set(own))
    missing = sorted(k for k in set(own) - set(state) if not k.endswith("num_batches_tracked"))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
             for k in sorted(set(state) & set(own)) if state[k].shape != own[k].shape]
    problems = [f"{label} {_few(items)}" for label, items in
                (("unknown keys", unknown), ("missing keys", missing), ("shape mismatches", wrong)) if items]
    if problems:
        raise BackboneWeightsError(f"{path}: does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state, strict=False)


def _few(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return f"[{shown}{f', ... ({len(items)} in all)' if len(items) > limit else ''}]"
