"""pix2pix: image-to-image translation with conditional adversarial networks (Isola et al., CVPR 2017).

G: a U-Net (or ResNet) maps an input image x to G(x); D: a PatchGAN sees the pair (x, y) with y
either the target or G(x). The objective (Eq. 4) is G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),
lambda = 100.

Opt-in, not the paper's, for inputs that leave much of the output undetermined (edges -> photo):
an L1 between gradient maps (SPSR, Ma et al., CVPR 2020), which keeps edges sharp where the pixel L1
averages an edge of unknown polarity away; 1 - SSIM (Zhao et al., IEEE TCI 2017), which lets G put
texture where the target has texture and keeps flat regions flat; and an L2 between the images'
16 x 16 px local means, which pulls the colours of regions to their conditional mean (the pixel L1's
optimum is the median, and the cGAN term's is any plausible colour) while the other terms shape the
detail; and frequency separation (Fritsche et al., ICCVW 2019): D sees the images less their Gaussian
blur, so the cGAN term judges texture and leaves the colours of regions to the pixel terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import NONZERO, option
from core_gan.hints import HINT_CHANNELS, visible
from core_gan.losses import GANLoss
from core_gan.method import ModelSpec, Parts
from core_gan.models.translators import PatchDiscriminator, Upsampling, make_generator
from core_gan.nn import Norm
from core_gan.objective import Batch, FakeCache, Losses, Networks
from core_gan.pixels import to_unit
from core_gan.recipe import Recipe, Schedule

UPSAMPLE_HELP = (
    "G's x2 upsampling: the paper's transposed convolution, or resize (bilinear + 3x3 conv: no checkerboard)"
)
GAN_MODES = {"vanilla": "nonsaturating", "lsgan": "lsgan", "wgan-gp": "wgan-gp", "hinge": "hinge"}


@dataclass(frozen=True)
class Pix2PixConfig:
    """The networks, with the paper's defaults. ``netD``: ``basic`` (70x70 PatchGAN), ``n_layers``
    (``n_layers_d`` stride-2 layers) or ``pixel`` (1x1 PixelGAN)."""

    netG: str = option("unet_256", "G: unet_N (N a power of 2 >= 32, the crop it fits), resnet_6blocks, resnet_9blocks")
    netD: Literal["basic", "n_layers", "pixel"] = option("basic", "D: the 70x70 PatchGAN, n_layers or the 1x1 PixelGAN")
    n_layers_d: int = option(3, "stride-2 layers of D when --netD n_layers", low=0, needs=("netD", "n_layers"))
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = option(64, "G's width: filters of its first layer", low=1)
    ndf: int = option(64, "D's width: filters of its first layer", low=1)
    norm: Norm = option("batch", "normalisation layers of G and D")
    dropout: bool = option(True, "dropout 0.5 in G's inner decoder blocks (the paper's only noise)")
    upsample: Upsampling = option("transpose", UPSAMPLE_HELP)
    hints: bool = option(False, "G also reads colour hints (core_gan.hints; drawn from the target in training)")


def build_generator(c: Pix2PixConfig) -> nn.Module:
    """G reads the input image, then with ``hints`` the HINT_CHANNELS of core_gan.hints."""
    in_ch = c.input_nc + (HINT_CHANNELS if c.hints else 0)
    return make_generator(c.netG, in_ch, c.output_nc, c.ngf, c.norm, c.dropout, c.upsample)


def build_discriminator(c: Pix2PixConfig) -> nn.Module:
    """Conditional D: it sees the input and the (real or generated) output concatenated; not the
    hints, so one D judges a picture against its sketch at any number of hints (the pixel terms tie
    the output to the hints, which are the target's own colours)."""
    layers = {"basic": 3, "n_layers": c.n_layers_d, "pixel": 0}[c.netD]
    return PatchDiscriminator(c.input_nc + c.output_nc, c.ndf, layers, c.norm)


@dataclass(frozen=True)
class Pix2PixLoss:
    """``gan_mode``: vanilla (the paper's cross-entropy; G non-saturating), lsgan, wgan-gp, hinge.
    ``lambda_gan = 0`` is the paper's "L1 alone" baseline (no discriminator is trained)."""

    gan_mode: Literal["vanilla", "lsgan", "wgan-gp", "hinge"] = option("vanilla", "the adversarial loss")
    lambda_l1: float = option(100.0, "weight lambda of the L1 term", low=0)
    lambda_gan: float = option(1.0, "weight of the cGAN term (0: the paper's L1-alone baseline, no D)", low=0)
    gp_weight: float = option(
        10.0, "gradient penalty weight with --gan-mode wgan-gp", low=0, needs=("gan_mode", "wgan-gp")
    )
    lambda_gradient: float = option(
        0.0, "weight of an L1 between the gradient maps of G(x) and y (SPSR; 0: the paper's objective)", low=0
    )
    gradient_sigma: float = option(
        0.0,
        "sigma of a Gaussian blur before the gradient maps (0: SPSR's maps; > 0: a step counts, a thin line not)",
        low=0,
        needs=("lambda_gradient", NONZERO),
    )
    lambda_ssim: float = option(
        0.0, "weight of 1 - SSIM(G(x), y), 11 px Gaussian window (0: the paper's objective)", low=0
    )
    lambda_colour: float = option(
        0.0, "weight of an L2 between the 16x16 px local means of G(x) and y (0: the paper's objective)", low=0
    )
    gan_high_pass: float = option(
        0.0,
        "sigma of a Gaussian blur taken from G(x) and y before D sees them (0: the paper's D, on the images)",
        low=0,
    )


COLOUR_WINDOW = 16
"""Side of the regions whose mean colours the colour term compares (that of the colour-error figure,
:func:`core_gan.metrics.translation_quality.colour_error`)."""


def structure_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1 - SSIM, the mean over valid 11 px windows and channels, of images in [-1, 1]: the SSIM of
    :func:`core_gan.metrics.image_quality.ssim`, without its 8-bit rounding, which has no gradient."""
    import kornia  # here, not at the top: inference imports this file and never trains

    return 1 - kornia.metrics.ssim(to_unit(fake), to_unit(real), window_size=11, padding="valid").mean()


def colour_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the two images' local means over COLOUR_WINDOW px squares."""
    return F.mse_loss(*(F.avg_pool2d(t, COLOUR_WINDOW, stride=1) for t in (fake, real)))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur over 6 sigma + 1 px, borders replicated."""
    import kornia  # here, not at the top: inference imports this file and never blurs

    k = 2 * math.ceil(3 * sigma) + 1
    return kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="replicate")


def high_pass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The image less its Gaussian blur: its texture and edges without the colours of its regions."""
    return x - gaussian_blur(x, sigma)


def gradient_map(x: torch.Tensor, sigma: float = 0.0) -> torch.Tensor:
    """M(I) of SPSR: per channel, the length of the central-difference gradient
    (I(x+1, y) - I(x-1, y), I(x, y+1) - I(x, y-1)), borders replicated. It has no sign, so an edge of
    either polarity scores the same. With ``sigma``, of the image blurred first: then a thin line
    traced along an edge, which M alone scores as two edges, nearly vanishes."""
    if sigma > 0:
        x = gaussian_blur(x, sigma)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    dx = padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]
    dy = padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]
    return (dx.square() + dy.square() + 1e-6).sqrt()


class Pix2PixObjective(Networks):
    """Batches are (x, y): input and target images (B, C, H, W) in [-1, 1]; x may carry hint
    channels after its first ``condition_channels``, which G reads and D does not."""

    preview_columns = 3

    def __init__(
        self, G: nn.Module, D: nn.Module, loss: Pix2PixLoss, preview_pairs: Batch, condition_channels: int = 3
    ) -> None:
        super().__init__({"G": G}, {"D": D} if loss.lambda_gan > 0 else {})
        self.config = loss
        self.condition_channels = condition_channels
        self.gan = GANLoss(GAN_MODES[loss.gan_mode])
        self.preview_pairs = preview_pairs
        self.fakes = FakeCache()

    def _critic(self, x: torch.Tensor):
        """D on (x, y); with ``gan_high_pass``, on (x, y less its blur)."""
        D, sigma = self.discriminators["D"], self.config.gan_high_pass
        x = x[:, : self.condition_channels]
        return lambda y: D(torch.cat([x, high_pass(y, sigma) if sigma > 0 else y], dim=1))

    def d_loss(self, batch: Batch) -> Losses:
        """L_cGAN for D: E[log D(x, y)] + E[log(1 - D(x, G(x)))], halved as in the paper (section 3.3).

        G(x) is computed once per step, with its graph kept for G's update (as the reference code does).
        """
        x, y = batch
        fake = self.fakes.put(batch, self.generators["G"](x))
        losses = self.gan.critic_losses(self._critic(x), y, fake, self.config.gp_weight, scale=0.5)
        losses["total"] = sum(losses.values())
        return losses

    def after_d_step(self) -> None:
        """Nothing to do: pix2pix has no weight clipping."""

    def g_loss(self, batch: Batch) -> Losses:
        """L_cGAN for G plus lambda ||y - G(x)||_1 (Eq. 4); L1 alone when ``lambda_gan = 0``; plus the
        opt-in terms that are on: lambda_gradient ||M(y) - M(G(x))||_1, lambda_ssim (1 - SSIM(G(x), y))
        and lambda_colour ||A * y - A * G(x)||_2^2 with A the COLOUR_WINDOW px box filter."""
        x, y = batch
        fake = self.fakes.take(batch, lambda: self.generators["G"](x))
        losses = {"l1": self.config.lambda_l1 * F.l1_loss(fake.float(), y.float())}
        if self.config.lambda_gradient > 0:
            sigma = self.config.gradient_sigma
            maps = gradient_map(fake.float(), sigma), gradient_map(y.float(), sigma)
            losses["gradient"] = self.config.lambda_gradient * F.l1_loss(*maps)
        if self.config.lambda_ssim > 0:
            losses["ssim"] = self.config.lambda_ssim * structure_loss(fake.float(), y.float())
        if self.config.lambda_colour > 0:
            losses["colour"] = self.config.lambda_colour * colour_loss(fake.float(), y.float())
        if self.config.lambda_gan > 0:
            losses["adv"] = self.config.lambda_gan * self.gan.g_loss(self._critic(x)(fake))
        losses["total"] = sum(losses.values())
        return losses

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """Rows of input (with its hints painted on) | output | target on the fixed preview pairs."""
        x, y = (t[:n] for t in self.preview_pairs)
        device = next(generators.parameters()).device
        out = generators["G"](x.to(device)).float().cpu()
        return torch.stack([visible(x.float(), self.condition_channels), out, y.float()], dim=1).flatten(0, 1)


RECIPE = Recipe(
    citation="Isola et al. 2017, section 3.3 and the reference code: batch 1, Adam 2e-4 (0.5, 0.999), "
    "100 epochs at the initial rate then 100 decaying linearly to 0, 286 px loads cropped to 256",
    schedule=Schedule(epochs=200, batch_size=1, lr=2e-4, betas=(0.5, 0.999), decay_fraction=0.5),
    loss=Pix2PixLoss(),
    network=Pix2PixConfig(),
    crop_size=256,
    best_metric="psnr",
)


def objective(parts: Parts) -> Pix2PixObjective:
    G, D = parts.generators["G"], parts.discriminators["D"]
    return Pix2PixObjective(G, D, parts.loss, parts.preview, parts.condition_channels)


SPEC = ModelSpec(
    "pix2pix", "pix2pix (Isola et al. 2017): U-Net + PatchGAN, cGAN + 100 L1", "paired", Pix2PixConfig,
    lambda c: {"G": build_generator(c)}, lambda c: {"D": build_discriminator(c)}, objective, RECIPE,
    evaluation="paired",
)  # fmt: skip
