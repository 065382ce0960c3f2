"""pix2pix: image-to-image translation with conditional adversarial networks (Isola et al., CVPR 2017).

G: a U-Net (or ResNet) maps an input image x to G(x); D: a PatchGAN sees the pair (x, y) with y
either the target or G(x). The objective (Eq. 4) is G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),
lambda = 100.

The loss config also carries the weights of core_gan.image_losses' opt-in terms (0 by default: the
paper's objective), which the bundled edges-to-photo recipe composes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import NONZERO, option
from core_gan.hints import HINT_CHANNELS, visible
from core_gan.image_losses import ImageTerms, high_pass, image_terms
from core_gan.losses import GANLoss
from core_gan.method import ModelSpec, Parts
from core_gan.models.translators import PatchDiscriminator, Upsampling, make_generator
from core_gan.nn import Norm
from core_gan.objective import Batch, FakeCache, Losses, Networks
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
        self.extra_terms = ImageTerms(loss.lambda_gradient, loss.gradient_sigma, loss.lambda_ssim, loss.lambda_colour)
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
        losses = self.gan.critic_losses(self._critic(x), y, fake, self.config.gp_weight, 0.5, self.diagnostics)
        losses["total"] = sum(losses.values())
        return losses

    def g_loss(self, batch: Batch) -> Losses:
        """L_cGAN for G plus lambda ||y - G(x)||_1 (Eq. 4); L1 alone when ``lambda_gan = 0``; plus the
        opt-in terms of core_gan.image_losses that are on."""
        x, y = batch
        fake = self.fakes.take(batch, lambda: self.generators["G"](x))
        losses = {"l1": self.config.lambda_l1 * F.l1_loss(fake.float(), y.float())}
        losses |= image_terms(fake, y, self.extra_terms)
        self.note_change(x, fake, y)
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
