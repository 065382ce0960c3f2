"""The GAN of Goodfellow et al. 2014 with multilayer-perceptron G and D, for points or flat images."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from core_gan.config import option
from core_gan.nn import MinibatchStdDev, spectral


@dataclass(frozen=True)
class MLPGANConfig:
    """``data_shape`` is (2,) for points or (C, H, W) for images (G then ends in tanh)."""

    data_shape: tuple[int, ...] = (2,)
    latent_dim: int = option(64, "dimension of the latent z", low=1)
    hidden: int = option(256, "width of the hidden layers", low=1)
    layers: int = option(3, "hidden layers in G and D", low=1)
    minibatch_std: bool = option(False, "minibatch-stddev feature in D (Karras et al. 2018)")
    spectral_norm: bool = option(False, "spectral normalisation of D (Miyato et al. 2018)")

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3


class MLPGenerator(nn.Module):
    """z (B, latent_dim) ~ N(0, I) -> sample (B, *data_shape); images in [-1, 1], points unbounded."""

    def __init__(self, config: MLPGANConfig) -> None:
        super().__init__()
        self.config = config
        dims = [config.latent_dim] + [config.hidden] * config.layers
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(dims[-1], math.prod(config.data_shape)))
        if config.is_image:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.config.data_shape)


class MLPDiscriminator(nn.Module):
    """sample (B, *data_shape) -> logits (B,). LeakyReLU(0.2) hidden layers (the paper used maxout)."""

    def __init__(self, config: MLPGANConfig) -> None:
        super().__init__()
        sn = config.spectral_norm
        dims = [math.prod(config.data_shape)] + [config.hidden] * config.layers
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in itertools.pairwise(dims):
            layers += [spectral(nn.Linear(a, b), sn), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.mbstd = MinibatchStdDev() if config.minibatch_std else nn.Identity()
        self.head = spectral(nn.Linear(dims[-1] + int(config.minibatch_std), 1), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbstd(self.features(x))).squeeze(1)
