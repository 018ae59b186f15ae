"""Inception-I3D (Carreira & Zisserman 2017) split into the four stages B1..B4 Uni-FineParser taps.

Layer names, TF "SAME" padding and the inception branch names (b0, b1a, b1b, b2a, b2b, b3b) follow
piergiaj's pytorch-i3d, so its ``rgb_imagenet.pt`` loads without renaming (see ``weights.py`` for the
``model_rgb.pth`` names). The logits layer is left out: the model only uses features.

Stages (paper Sec. 3.2 and the FineParser reference segmenter's four taps), for an 8-frame 224x224 snippet:
  B1 -> Conv3d_1a_7x7                        64 x 4 x 112 x 112
  B2 -> ... Conv3d_2c_3x3                   192 x 4 x 56 x 56   (C_2, T_2, W_2, H_2 of Table 1)
  B3 -> ... Mixed_4f                        832 x 2 x 14 x 14
  B4 -> ... Mixed_5c                       1024 x 1 x 7 x 7     (C_4)
``width`` scales every channel count so a CPU-sized model keeps the same architecture.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# name -> (kind, spec). conv: (out, kernel, stride); pool: (kernel, stride); mixed: six branch widths.
LAYERS: list[tuple[str, str, tuple]] = [
    ("Conv3d_1a_7x7", "conv", (64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "conv", (64, (1, 1, 1), (1, 1, 1))),
    ("Conv3d_2c_3x3", "conv", (192, (3, 3, 3), (1, 1, 1))),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", "mixed", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "mixed", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", "mixed", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", "mixed", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", "mixed", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", "mixed", (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "mixed", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", "mixed", (384, 192, 384, 48, 128, 128)),
]
STAGE_ENDS = {1: "Conv3d_1a_7x7", 2: "Conv3d_2c_3x3", 3: "Mixed_4f", 4: "Mixed_5c"}


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding (front, back) for one dimension, as the weights were trained with."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _same_padding(
    x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Input and symmetric padding that together give SAME padding.

    When front and back padding agree in every dimension (stride-1 layers at any size), the layer
    pads by itself, which is much cheaper than a padded copy; otherwise the input is zero-padded here.
    """
    pads = [_same_pad(s, k, st) for s, k, st in zip(x.shape[-3:], kernel, stride)]
    if all(front == back for front, back in pads):
        return x, tuple(front for front, _ in pads)
    (tf, tb), (hf, hb), (wf, wb) = pads
    return F.pad(x, (wf, wb, hf, hb, tf, tb)), (0, 0, 0)


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm + ReLU with SAME padding; parameters named conv3d / bn."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
    ) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride=stride, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, padding = _same_padding(x, self.kernel, self.stride)
        return F.relu(self.bn(F.conv3d(x, self.conv3d.weight, None, self.stride, padding)))


class MaxPool3dSame(nn.Module):
    """Max pooling with SAME padding. Its inputs are ReLU outputs (>= 0), so the pool's own -inf
    padding and TensorFlow's zero padding give the same maxima."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, padding = _same_padding(x, self.kernel, self.stride)
        return F.max_pool3d(x, self.kernel, self.stride, padding)


class InceptionModule(nn.Module):
    def __init__(self, cin: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        self.b0 = Unit3D(cin, w0)
        self.b1a = Unit3D(cin, w1a)
        self.b1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.b2a = Unit3D(cin, w2a)
        self.b2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(cin, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3d(nn.Module):
    """The I3D feature extractor; ``stage(x, k)`` runs stage B_k, ``forward`` runs B1..B4."""

    def __init__(self, width: float = 1.0, in_channels: int = 3, bn_momentum: float = 0.01) -> None:
        super().__init__()
        self.width = width
        self.stage_layers: dict[int, list[str]] = {k: [] for k in STAGE_ENDS}
        self.stage_channels: dict[int, int] = {}
        stage, channels = 1, in_channels
        for name, kind, spec in LAYERS:
            if kind == "conv":
                out, kernel, stride = spec
                layer: nn.Module = Unit3D(channels, self._scale(out), kernel, stride)
                channels = self._scale(out)
            elif kind == "pool":
                layer = MaxPool3dSame(*spec)
            else:
                layer = InceptionModule(channels, tuple(self._scale(c) for c in spec))
                channels = layer.out_channels
            self.add_module(name, layer)
            self.stage_layers[stage].append(name)
            if name == STAGE_ENDS[stage]:
                self.stage_channels[stage] = channels
                stage += 1
        self.out_channels = channels  # C_4
        # 0.01 suits fine-tuning pretrained weights (the reference); from scratch the running
        # statistics then lag far behind the weights and eval-mode outputs blow up, so it is settable
        for m in self.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.momentum = bn_momentum

    def _scale(self, channels: int) -> int:
        return max(2, math.floor(channels * self.width + 0.5))

    def stage(self, x: torch.Tensor, k: int) -> torch.Tensor:
        for name in self.stage_layers[k]:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k in STAGE_ENDS:
            x = self.stage(x, k)
        return x
