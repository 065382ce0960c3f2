"""SRResNet and SRGAN: photo-realistic single-image super-resolution (Ledig et al., CVPR 2017).

G (SRResNet) maps a low-resolution image to one ``scale`` times larger; SRResNet is G trained on a
pixel loss alone (the PSNR-oriented stage), SRGAN fine-tunes it with the perceptual loss of Eq. 3:
l^SR = l^SR_X (content: VGG feature MSE, Eq. 5, or pixel MSE, Eq. 4) + 1e-3 l^SR_Gen (Eq. 6).
Images are (B, C, H, W) in [-1, 1] in and out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import option
from core_gan.errors import UserError
from core_gan.losses import GANLoss, critic_scores
from core_gan.method import ModelSpec, Parts
from core_gan.nn import conv_block
from core_gan.objective import Batch, FakeCache, Losses, Networks
from core_gan.recipe import Recipe, Schedule

SCALES = (2, 4, 8)
CONTENT_LOSSES = ("mse", "l1", "vgg22", "vgg54")
VGG_RESCALE = 1 / 12.75  # Ledig et al. section 3.2: brings VGG losses to the scale of the MSE loss


@dataclass(frozen=True)
class SRResNetConfig:
    """SRResNet: ``blocks`` residual blocks of ``features`` channels, log2(scale) sub-pixel x2 stages.
    ``batch_norm = False`` drops BN everywhere (Wang et al. 2018, ESRGAN: BN causes artefacts)."""

    scale: int = option(4, "upscaling factor")
    channels: int = 3
    features: int = option(64, "channels of the residual blocks", low=1)
    blocks: int = option(16, "residual blocks", low=1)
    batch_norm: bool = option(True, "batch norm in the blocks (ESRGAN drops it: artefacts)")


@torch.no_grad()
def icnr_(conv: nn.Conv2d, upscale: int) -> None:
    """ICNR initialisation (Aitken et al. 2017) of a convolution followed by PixelShuffle(upscale): the
    upscale^2 sub-pixel kernels of each output channel start equal, so the stage starts as nearest-
    neighbour upsampling of one convolution and has no checkerboard artefacts."""
    out_ch, *rest = conv.weight.shape
    kernel = torch.empty(out_ch // upscale**2, *rest)
    nn.init.kaiming_normal_(kernel, nonlinearity="relu")
    conv.weight.copy_(kernel.repeat_interleave(upscale**2, dim=0))
    nn.init.zeros_(conv.bias)


class SRResidualBlock(nn.Module):
    """x + [conv3x3, BN, PReLU, conv3x3, BN](x) (Ledig et al. Fig. 4)."""

    def __init__(self, features: int, batch_norm: bool) -> None:
        super().__init__()
        norm = "batch" if batch_norm else "none"
        self.body = nn.Sequential(
            conv_block(features, features, kernel=3, stride=1, padding=1, norm=norm, activation=nn.PReLU()),
            conv_block(features, features, kernel=3, stride=1, padding=1, norm=norm),
        )
        if not batch_norm:
            # Without BN's rescaling, 16 blocks at the default init blow up the residual sum: start each
            # branch small (Wang et al. 2018, BasicSR's MSRResNet init, x0.1).
            for conv in (self.body[0][0], self.body[1][0]):
                nn.init.kaiming_normal_(conv.weight)
                conv.weight.data.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """9x9 conv + PReLU; B residual blocks; conv3x3 + BN and the long skip; x2 sub-pixel stages
    (conv -> PixelShuffle(2) -> PReLU); 9x9 conv to ``channels``. Works at any input size."""

    def __init__(self, config: SRResNetConfig = SRResNetConfig()) -> None:
        super().__init__()
        if config.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {config.scale}")
        self.config = config
        c, n = config.channels, config.features
        norm = "batch" if config.batch_norm else "none"
        self.head = nn.Sequential(nn.Conv2d(c, n, 9, padding=4), nn.PReLU())
        self.blocks = nn.Sequential(*(SRResidualBlock(n, config.batch_norm) for _ in range(config.blocks)))
        self.trunk = conv_block(n, n, kernel=3, stride=1, padding=1, norm=norm)
        stages = []
        for _ in range(int(math.log2(config.scale))):
            conv = nn.Conv2d(n, n * 4, 3, padding=1)
            icnr_(conv, 2)
            stages += [conv, nn.PixelShuffle(2), nn.PReLU()]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(n, c, 9, padding=4)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        return self.tail(self.upsample(features + self.trunk(self.blocks(features))))


class SRGANDiscriminator(nn.Module):
    """The paper's VGG-style D (Fig. 4): eight 3x3 convs 64 -> 512, stride 2 every other one, BN and
    LeakyReLU(0.2); dense 1024, LeakyReLU, dense 1 (a logit). Global average pooling before the dense
    layers lets it take any crop size (the paper's 96 px gives a 6x6 map)."""

    def __init__(self, channels: int = 3, features: int = 64) -> None:
        super().__init__()
        widths = [features * 2 ** (i // 2) for i in range(8)]
        layers = [conv_block(channels, widths[0], kernel=3, stride=1, padding=1, norm="none",
                             activation=nn.LeakyReLU(0.2, True))]  # fmt: skip
        for i in range(1, 8):
            layers.append(conv_block(widths[i - 1], widths[i], kernel=3, stride=2 if i % 2 else 1, padding=1,
                                     norm="batch", activation=nn.LeakyReLU(0.2, True)))  # fmt: skip
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(widths[-1], features * 16),
            nn.LeakyReLU(0.2, True),
            nn.Linear(features * 16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class SRLoss:
    """``content_loss``: mse (Eq. 4), l1, vgg22 or vgg54 (Eq. 5, features rescaled by 1/12.75).
    ``adversarial_weight``: 1e-3 for SRGAN (Eq. 3); 0 is the SRResNet stage (no discriminator)."""

    content_loss: Literal["mse", "l1", "vgg22", "vgg54"] = option(
        "mse", "content loss l^SR_X: pixels or VGG19 features"
    )
    adversarial_weight: float = option(0.0, "weight of the adversarial term l^SR_Gen", low=0)


class ContentLoss(nn.Module):
    """l^SR_X between SR and HR images: pixel MSE or L1, or MSE between rescaled VGG feature maps."""

    def __init__(self, kind: str, vgg: nn.Module | None = None) -> None:
        super().__init__()
        if kind not in CONTENT_LOSSES:
            raise ValueError(f"unknown content loss {kind!r}; expected one of {', '.join(CONTENT_LOSSES)}")
        if kind.startswith("vgg") and vgg is None:
            raise ValueError(f"content loss {kind} needs the VGG19 feature network")
        self.kind = kind
        self.vgg = vgg

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        sr, hr = sr.float(), hr.float()
        if self.kind == "mse":
            return F.mse_loss(sr, hr)
        if self.kind == "l1":
            return F.l1_loss(sr, hr)
        return F.mse_loss(self.vgg(sr) * VGG_RESCALE, self.vgg(hr) * VGG_RESCALE)


class SRObjective(Networks):
    """Batches are (LR, HR). Without a discriminator this is SRResNet's pixel-loss training.
    ``content``: the content loss l^SR_X (ESRGAN's subclass passes its feature network instead);
    ``loss``: any config with an ``adversarial_weight`` (0: no D is trained)."""

    preview_columns = 3

    def __init__(self, G: nn.Module, D: nn.Module | None, loss: Any, content: nn.Module, preview_pairs: Batch) -> None:
        super().__init__({"G": G}, {"D": D} if D is not None and loss.adversarial_weight > 0 else {})
        self.config = loss
        self.content = content
        self.gan = GANLoss("nonsaturating")
        self.preview_pairs = preview_pairs
        self.fakes = FakeCache()

    def d_loss(self, batch: Batch) -> Losses:
        """D's side of l^SR_Gen: real HR vs G(LR) (G's output kept for G's update)."""
        lr, hr = batch
        sr = self.fakes.put(batch, self.generators["G"](lr))
        D = self.discriminators["D"]
        real_logits, fake_logits = D(hr), D(sr.detach())
        self.diagnostics.update(critic_scores(self.gan.kind, real_logits, fake_logits))
        loss = self.discriminator_loss(real_logits, fake_logits)
        return {"adv": loss, "total": loss}

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """SRGAN's D: the standard GAN cross-entropy (Eq. 2)."""
        return self.gan.d_loss(real_logits, fake_logits)

    def g_loss(self, batch: Batch) -> Losses:
        """l^SR = l^SR_X + 1e-3 l^SR_Gen (Eq. 3), l^SR_X alone for SRResNet."""
        lr, hr = batch
        sr = self.fakes.take(batch, lambda: self.generators["G"](lr))
        losses = {"content": self.content(sr, hr)}
        if self.discriminators:
            losses["adv"] = self.config.adversarial_weight * self.gan.g_loss(self.discriminators["D"](sr))
        losses["total"] = sum(losses.values())
        return losses

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """Rows of bicubic | G(LR) | HR on fixed validation crops."""
        lr, hr = (t[:n] for t in self.preview_pairs)
        G = generators["G"]
        sr = G(lr.to(next(G.parameters()).device)).float().cpu().clamp(-1, 1)
        bicubic = F.interpolate(lr, size=hr.shape[-2:], mode="bicubic", align_corners=False).clamp(-1, 1)
        return torch.stack([bicubic, sr, hr.float()], dim=1).flatten(0, 1)


SRRESNET_RECIPE = Recipe(
    citation="Ledig et al. 2017, section 3.2: 96 px HR crops, batch 16, Adam (0.9, 0.999) at 1e-4, 10^6 updates, MSE",
    schedule=Schedule(steps=1_000_000, batch_size=16, lr=1e-4, betas=(0.9, 0.999)),
    loss=SRLoss(content_loss="mse"),
    network=SRResNetConfig(),
    crop_size=96,
    best_metric="psnr",
)
SRGAN_RECIPE = Recipe(
    citation="Ledig et al. 2017, section 3.2: from the trained SRResNet, 10^5 updates at 1e-4 then 10^5 at "
    "1e-5; VGG54 content loss and 1e-3 adversarial weight (Eq. 3)",
    schedule=Schedule(steps=200_000, batch_size=16, lr=1e-4, betas=(0.9, 0.999), lr_policy="step", decay_fraction=0.5),
    loss=SRLoss(content_loss="vgg54", adversarial_weight=1e-3),
    network=SRResNetConfig(),
    crop_size=96,
)


def objective(parts: Parts) -> SRObjective:
    """The content loss the config names (VGG features from ``parts.extras["vgg_weights"]`` or torch hub's
    cache), and D when there is one and the adversarial weight is not 0."""
    from core_gan.models.vgg import load_vgg_features  # here: inference imports this file and never needs VGG

    kind, weights = parts.loss.content_loss, parts.extras.get("vgg_weights")
    if weights is not None and not kind.startswith("vgg"):
        raise UserError(f"--vgg-weights: the content loss is {kind}, not a VGG one")
    vgg = load_vgg_features(kind, weights) if kind.startswith("vgg") else None
    content = ContentLoss(kind, vgg).to(parts.device)
    return SRObjective(parts.generators["G"], parts.discriminators.get("D"), parts.loss, content, parts.preview)


SRRESNET = ModelSpec(
    "srresnet", "SRResNet (Ledig et al. 2017): super-resolution on a pixel loss", "sr", SRResNetConfig,
    lambda c: {"G": SRResNet(c)}, lambda c: {}, objective, SRRESNET_RECIPE, init=None,
)  # fmt: skip
SRGAN = ModelSpec(
    "srgan", "SRGAN (Ledig et al. 2017): SRResNet + VGG content loss + adversarial term", "sr", SRResNetConfig,
    lambda c: {"G": SRResNet(c)}, lambda c: {"D": SRGANDiscriminator(c.channels)}, objective, SRGAN_RECIPE,
    init=None, starts_from="a PSNR-oriented run (--init RUN)",
)  # fmt: skip
