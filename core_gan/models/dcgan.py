"""DCGAN (Radford et al. 2016) and its class-conditional forms (Mirza & Osindero 2014; Miyato &
Koyama 2018's projection discriminator; Odena et al. 2017's AC-GAN; Dumoulin et al.'s conditional BN).

The architecture guidelines of the DCGAN paper (section 3), followed exactly: strided convolutions
instead of pooling, transposed convolutions in G, batch norm in G and D except G's output layer and
D's input layer, ReLU in G with a tanh output, LeakyReLU(0.2) in D, no fully connected hidden layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from core_gan.config import option
from core_gan.nn import ConditionalBatchNorm2d, MinibatchStdDev, Norm, conv_block, spectral

Conditioning = Literal["concat", "projection", "acgan"]
IMAGE_SIZES = (32, 64, 128)


@dataclass(frozen=True)
class DCGANConfig:
    """``num_classes = 0`` is the unconditional DCGAN; otherwise ``conditioning`` picks D's form."""

    image_size: int = 64
    channels: int = 3
    latent_dim: int = option(100, "dimension of the latent z", low=1)
    ngf: int = option(64, "G's width: channels of its last hidden stage", low=1)
    ndf: int = option(64, "D's width: channels of its first stage", low=1)
    d_norm: Norm = "batch"
    spectral_norm: bool = option(False, "spectral normalisation of D (Miyato et al. 2018)")
    minibatch_std: bool = option(False, "minibatch-stddev feature in D (Karras et al. 2018)")
    num_classes: int = 0
    embed_dim: int = option(16, "size of the label embeddings", low=1)
    conditioning: Conditioning = option("concat", "how D sees the label: concat, projection (Miyato & Koyama) or acgan")
    conditional_bn: bool = option(False, "class-conditional batch norm in G")

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"DCGAN image_size must be one of {IMAGE_SIZES}, got {self.image_size}")

    @property
    def n_up(self) -> int:
        """Number of x2 stages between the 4x4 base and the output: 3 at 32 px, 4 at 64, 5 at 128."""
        return int(math.log2(self.image_size)) - 2


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) [and labels (B,)] -> images (B, channels, size, size) in [-1, 1].

    A 4x4 projection of z by a transposed conv, then x2 transposed-conv stages halving the width,
    each followed by (conditional) batch norm and ReLU; the last stage outputs ``channels`` with tanh.
    Labels enter as an embedding concatenated to z, and per-class BN scales when ``conditional_bn``.
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.num_classes, c.embed_dim) if c.num_classes else None
        in_ch = c.latent_dim + (c.embed_dim if c.num_classes else 0)
        widths = [c.ngf * 2 ** (c.n_up - 1 - i) for i in range(c.n_up)]
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i, width in enumerate(widths):
            stride, padding = (1, 0) if i == 0 else (2, 1)
            self.convs.append(nn.ConvTranspose2d(in_ch, width, 4, stride, padding, bias=False))
            self.norms.append(
                ConditionalBatchNorm2d(width, c.num_classes) if c.conditional_bn else nn.BatchNorm2d(width)
            )
            in_ch = width
        self.to_image = nn.ConvTranspose2d(in_ch, c.channels, 4, 2, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y of shape (B,)")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = z[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = conv(h)
            h = norm(h, y) if isinstance(norm, ConditionalBatchNorm2d) else norm(h)
            h = torch.relu(h)
        return torch.tanh(self.to_image(h))


class DCGANDiscriminator(nn.Module):
    """images (B, channels, size, size) [and labels (B,)] -> logits (B,).

    Stride-2 conv stages doubling the width down to 4x4 (no norm on the first), LeakyReLU(0.2), and a
    4x4 conv to one logit. Conditioning: ``concat`` adds a label-embedding map to the input channels;
    ``projection`` adds <embed(y), sum_hw phi(x)>; ``acgan`` adds a class head (see ``classify``).
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        sn = c.spectral_norm
        conditional = c.num_classes > 0
        self.input_embed = (
            nn.Embedding(c.num_classes, c.embed_dim) if conditional and c.conditioning == "concat" else None
        )
        in_ch = c.channels + (c.embed_dim if self.input_embed is not None else 0)
        stages: list[nn.Module] = []
        for i in range(c.n_up):
            width = c.ndf * 2**i
            norm: Norm = "none" if i == 0 else c.d_norm
            stages.append(
                conv_block(in_ch, width, norm=norm, activation=nn.LeakyReLU(0.2, inplace=True), spectral_norm=sn)
            )
            in_ch = width
        self.features = nn.Sequential(*stages)
        self.mbstd = MinibatchStdDev() if c.minibatch_std else nn.Identity()
        head_ch = in_ch + int(c.minibatch_std)
        self.head = spectral(nn.Conv2d(head_ch, 1, 4, 1, 0), sn)
        self.projection = (
            spectral(nn.Embedding(c.num_classes, in_ch), sn) if conditional and c.conditioning == "projection" else None
        )
        self.class_head = (
            nn.Conv2d(in_ch, c.num_classes, 4, 1, 0) if conditional and c.conditioning == "acgan" else None
        )

    def _input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The image, with a label-embedding map concatenated when conditioning is ``concat``."""
        if self.input_embed is None:
            return x
        if y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y of shape (B,)")
        label_map = self.input_embed(y)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return torch.cat([x, label_map], dim=1)

    def _phi(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.features(self._input(x, y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self._phi(x, y)
        logits = self.head(self.mbstd(h)).flatten()
        if self.projection is not None:
            if y is None:
                raise ValueError("the projection discriminator needs labels y of shape (B,)")
            logits = logits + (self.projection(y) * h.sum(dim=(2, 3))).sum(dim=1)
        return logits

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """AC-GAN's auxiliary classifier: images -> class logits (B, num_classes)."""
        if self.class_head is None:
            raise ValueError("classify() needs conditioning='acgan'")
        return self.class_head(self._phi(x, None)).flatten(1)

    def feature_vector(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Max-pooled 4x4 features of every stage, flattened (the DCGAN paper's section 5.1 probe)."""
        feats = []
        h = self._input(x, y)
        for stage in self.features:
            h = stage(h)
            feats.append(nn.functional.adaptive_max_pool2d(h, 4).flatten(1))
        return torch.cat(feats, dim=1)


def norm_for_loss(loss: str) -> Norm:
    """D's norm: batch norm, except with a gradient penalty, which is per-sample (Gulrajani et al. §4)."""
    return "none" if loss == "wgan-gp" else "batch"
