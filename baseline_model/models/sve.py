"""Static visual encoding (SVE): a ResNet on the two central adjacent frames of each snippet."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ScaledResNet(ResNet):
    """torchvision's BasicBlock ResNet with every stage width scaled and the classifier removed.

    ``layers=[3, 4, 6, 3], width=1.0`` is exactly torchvision's resnet34 without ``fc`` (same
    parameter names, 21,284,672 parameters), so its ImageNet weights load; a smaller width or depth
    keeps the same design for CPU-sized runs.
    """

    def __init__(self, layers: list[int], width: float = 1.0) -> None:
        nn.Module.__init__(self)
        planes = [max(4, round(64 * width * 2**i)) for i in range(4)]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = planes[0], 1, 1, 64
        self.conv1 = nn.Conv2d(3, planes[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, planes[0], layers[0])
        self.layer2 = self._make_layer(BasicBlock, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, planes[2], layers[2], stride=2)
        self.layer4 = self._make_layer(BasicBlock, planes[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Identity()
        self.out_channels = planes[3]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class StaticVisualEncoder(nn.Module):
    """X_i^V = Concat(V(X_i[T/2 : T/2 + 2])): two frames through the ResNet V, concatenated (2 x 512).

    The clip arrives normalised for the I3D; ``input_normalisation`` says how, and the encoder maps
    it to the ImageNet mean/std the ResNet was trained on. When 2 x ResNet width differs from the
    I3D's C_4 (only in scaled-down models) a linear layer projects it; at paper size
    2 x 512 = 1024 = C_4 and there is none.
    """

    def __init__(self, layers: list[int], width: float, out_dim: int, input_normalisation: str) -> None:
        super().__init__()
        self.resnet = ScaledResNet(layers, width)
        features = 2 * self.resnet.out_channels
        self.project = nn.Linear(features, out_dim) if features != out_dim else nn.Identity()
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        if input_normalisation == "i3d_rgb_imagenet":  # x = 2 rgb - 1  ->  (rgb - mean) / std
            scale, shift = 0.5 / std, (0.5 - mean) / std
        elif input_normalisation == "model_rgb":  # already ImageNet mean/std
            scale, shift = torch.ones(3), torch.zeros(3)
        else:
            raise ValueError(f"unknown input normalisation {input_normalisation!r}")
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def forward(self, snippets: torch.Tensor) -> torch.Tensor:
        """snippets: S x 3 x L x H x W -> S x out_dim."""
        s, c, length, h, w = snippets.shape
        centre = snippets[:, :, length // 2: length // 2 + 2]  # S x 3 x 2 x H x W
        frames = centre.transpose(1, 2).reshape(s * 2, c, h, w) * self.scale + self.shift
        return self.project(self.resnet(frames).reshape(s, -1))
