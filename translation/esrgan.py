"""RRDBNet, ESRGAN's generator (Wang et al., ECCV Workshops 2018), as used by Real-ESRGAN (Wang et al.
2021). Layer names follow BasicSR's, so that published state dicts load as they are.

No batch norm; residual-in-residual dense blocks (RRDB) of three 5-conv dense blocks (growth 32),
each residual scaled by 0.2; nearest-neighbour x2 upsampling + conv, twice for x4. The published
weights work on images in [0, 1]; the suite's [-1, 1] images are mapped in and out in ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

RESIDUAL_SCALE = 0.2


@dataclass(frozen=True)
class RRDBNetConfig:
    """x4 RRDBNet: 23 blocks for Real-ESRGAN x4plus, 6 for its anime variant."""

    scale: int = 4
    channels: int = 3
    features: int = 64
    blocks: int = 23
    growth: int = 32


class ResidualDenseBlock(nn.Module):
    """x + 0.2 conv5([x, x1, x2, x3, x4]) with x_k = lrelu(conv_k([x, x1, ..., x_{k-1}])) (ESRGAN Fig. 4)."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        for k in range(1, 5):
            self.add_module(f"conv{k}", nn.Conv2d(features + (k - 1) * growth, growth, 3, 1, 1))
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for k in range(1, 5):
            features.append(self.lrelu(getattr(self, f"conv{k}")(torch.cat(features, 1))))
        return x + RESIDUAL_SCALE * self.conv5(torch.cat(features, 1))


class RRDB(nn.Module):
    """Residual in residual dense block: x + 0.2 RDB3(RDB2(RDB1(x)))."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(features, growth)
        self.rdb2 = ResidualDenseBlock(features, growth)
        self.rdb3 = ResidualDenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + RESIDUAL_SCALE * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """Images (B, C, H, W) in [-1, 1] -> (B, C, 4H, 4W) in about [-1, 1]."""

    def __init__(self, config: RRDBNetConfig = RRDBNetConfig()) -> None:
        super().__init__()
        if config.scale != 4:
            raise ValueError(f"RRDBNet here is x4 (two nearest-neighbour x2 stages), got scale {config.scale}")
        self.config = config
        n, c = config.features, config.channels
        self.conv_first = nn.Conv2d(c, n, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(n, config.growth) for _ in range(config.blocks)))
        self.conv_body = nn.Conv2d(n, n, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(n, n, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(n, n, 3, 1, 1)
        self.conv_hr = nn.Conv2d(n, n, 3, 1, 1)
        self.conv_last = nn.Conv2d(n, c, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        for m in self.modules():  # BasicSR's init: Kaiming, scaled by 0.1 to keep the deep residual sums small
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data.mul_(0.1)
                nn.init.zeros_(m.bias)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first((x + 1) / 2)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat))) * 2 - 1
