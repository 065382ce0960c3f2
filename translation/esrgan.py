"""ESRGAN: enhanced super-resolution GANs (Wang et al., ECCV Workshops 2018).

G is RRDBNet, as also used by Real-ESRGAN (Wang et al. 2021); layer names follow BasicSR's, so that
published state dicts load as they are. No batch norm; residual-in-residual dense blocks (RRDB) of
three 5-conv dense blocks (growth 32), each residual scaled by 0.2; nearest-neighbour x2 upsampling +
conv, twice for x4. The published weights work on images in [0, 1]; the suite's [-1, 1] images are
mapped in and out in ``forward``.

Training (section 3): G starts from a PSNR-oriented RRDBNet (trained on L1), then minimises
L_G = L_percep + lambda L_G^Ra + eta L_1 (Eq. 3), lambda = 5e-3, eta = 1e-2, with L_percep on VGG19
conv5_4 features *before* the activation and D relativistic average (Eq. 1-2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import option
from core_gan.losses import relativistic_d_loss, relativistic_g_loss
from core_gan.method import ModelSpec, Parts
from core_gan.objective import Batch, Losses
from core_gan.pixels import from_unit, to_unit
from core_gan.recipe import Recipe, Schedule
from translation.srgan import SRGANDiscriminator, SRObjective

RESIDUAL_SCALE = 0.2


@dataclass(frozen=True)
class RRDBNetConfig:
    """x4 RRDBNet: 23 blocks for Real-ESRGAN x4plus, 6 for its anime variant."""

    scale: int = 4
    channels: int = 3
    features: int = option(64, "channels of the trunk", low=1)
    blocks: int = option(23, "RRDB blocks", low=1)
    growth: int = option(32, "growth channels of the dense blocks", low=1)


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
        feat = self.conv_first(to_unit(x))
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return from_unit(self.conv_last(self.lrelu(self.conv_hr(feat))))


@dataclass(frozen=True)
class ESRGANLoss:
    """Eq. 3's weights: L1 eta = 1e-2, perceptual 1 (L1 between VGG19 conv5_4 features before the
    activation, as BasicSR's ESRGAN recipe), relativistic adversarial lambda = 5e-3."""

    pixel_weight: float = option(1e-2, "weight eta of the L1 pixel loss", low=0)
    perceptual_weight: float = option(1.0, "weight of the VGG19 conv5_4 (pre-activation) feature loss", low=0)
    adversarial_weight: float = option(5e-3, "weight lambda of the relativistic adversarial loss", low=0)


class ESRGANObjective(SRObjective):
    """Batches are (LR, HR) in [-1, 1]. ``vgg``: VGG19 features up to conv5_4 before its ReLU."""

    def __init__(self, G: nn.Module, D: nn.Module, loss: ESRGANLoss, vgg: nn.Module, preview_pairs: Batch) -> None:
        super().__init__(G, D, loss, vgg, preview_pairs)

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """L_D^Ra = -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))] (Eq. 2)."""
        return relativistic_d_loss(real_logits, fake_logits)

    def g_loss(self, batch: Batch) -> Losses:
        """L_percep + lambda L_G^Ra + eta L_1 (Eq. 3); L_G^Ra takes gradients from real and fake logits."""
        lr, hr = batch
        c, vgg = self.config, self.content
        sr = self.fakes.take(batch, lambda: self.generators["G"](lr)).float()
        hr = hr.float()
        D = self.discriminators["D"]
        losses = {
            "l1": c.pixel_weight * F.l1_loss(sr, hr),
            "perceptual": c.perceptual_weight * F.l1_loss(vgg(sr), vgg(hr)),
            "adv": c.adversarial_weight * relativistic_g_loss(D(hr).detach(), D(sr)),
        }
        losses["total"] = sum(losses.values())
        return losses


RECIPE = Recipe(
    citation="Wang et al. 2018, section 4.1: 128 px HR crops, batch 16, Adam (0.9, 0.999) at 1e-4 from the "
    "PSNR-oriented model (--init), halved at 50k, 100k, 200k and 300k of 400k updates",
    schedule=Schedule(steps=400_000, batch_size=16, lr=1e-4, betas=(0.9, 0.999), lr_policy="halving"),
    loss=ESRGANLoss(),
    network=RRDBNetConfig(),
    crop_size=128,
)


def objective(parts: Parts) -> ESRGANObjective:
    """ESRGAN's objective on VGG19's conv5_4 before its ReLU (``parts.extras["vgg_weights"]`` or the cache)."""
    from core_gan.models.vgg import load_vgg_features  # here: inference imports this file and never needs VGG

    vgg = load_vgg_features("vgg54-preact", parts.extras.get("vgg_weights")).to(parts.device)
    return ESRGANObjective(parts.generators["G"], parts.discriminators["D"], parts.loss, vgg, parts.preview)


SPEC = ModelSpec(
    "esrgan", "ESRGAN (Wang et al. 2018): RRDBNet x4 from a PSNR-oriented run, L1 + VGG + RaGAN", "sr",
    RRDBNetConfig, lambda c: {"G": RRDBNet(c)}, lambda c: {"D": SRGANDiscriminator(c.channels)}, objective, RECIPE,
    init=None, starts_from="a PSNR-oriented run (--init RUN)",
)  # fmt: skip
