"""Image terms beyond a paper's objective, which a recipe may add to a translator's pixel loss.

They serve inputs that leave much of the output undetermined (edges -> photo), where the pixel L1
averages the possible outputs into a blur:
- an L1 between gradient maps (SPSR, Ma et al., CVPR 2020), which keeps edges sharp where the pixel L1
  averages an edge of unknown polarity away;
- 1 - SSIM (Zhao et al., "Loss functions for image restoration with neural networks", IEEE TCI 2017),
  which lets G put texture where the target has texture and keeps flat regions flat;
- an L2 between the images' 16 x 16 px local means, which pulls the colours of regions to their
  conditional mean (the pixel L1's optimum is the median, a GAN term's any plausible colour) while the
  other terms shape the detail;
- frequency separation (Fritsche et al., ICCVW 2019): D sees the images less their Gaussian blur
  (:func:`high_pass`), so the adversarial term judges texture and leaves the colours of regions to the
  pixel terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core_gan.pixels import to_unit

COLOUR_WINDOW = 16
"""Side of the regions whose mean colours the colour term compares (that of the colour-error figure,
:func:`core_gan.metrics.translation_quality.colour_error`)."""


@dataclass(frozen=True)
class ImageTerms:
    """The weights of the terms (0: off) and the blur of the gradient maps."""

    gradient: float = 0.0
    gradient_sigma: float = 0.0
    ssim: float = 0.0
    colour: float = 0.0


def image_terms(fake: torch.Tensor, real: torch.Tensor, weights: ImageTerms) -> dict[str, torch.Tensor]:
    """The weighted terms that are on: gradient ||M(y) - M(G(x))||_1, ssim 1 - SSIM(G(x), y), colour
    ||A * y - A * G(x)||_2^2 with A the COLOUR_WINDOW px box filter; images in [-1, 1]."""
    fake, real = fake.float(), real.float()
    terms = {}
    if weights.gradient > 0:
        maps = gradient_map(fake, weights.gradient_sigma), gradient_map(real, weights.gradient_sigma)
        terms["gradient"] = weights.gradient * F.l1_loss(*maps)
    if weights.ssim > 0:
        terms["ssim"] = weights.ssim * structure_loss(fake, real)
    if weights.colour > 0:
        terms["colour"] = weights.colour * colour_loss(fake, real)
    return terms


def structure_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1 - SSIM, the mean over valid 11 px windows and channels, of images in [-1, 1]: the SSIM of
    :func:`core_gan.metrics.image_quality.ssim`, without its 8-bit rounding, which has no gradient."""
    import kornia  # here, not at the top: inference never computes a loss

    return 1 - kornia.metrics.ssim(to_unit(fake), to_unit(real), window_size=11, padding="valid").mean()


def colour_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the two images' local means over COLOUR_WINDOW px squares."""
    return F.mse_loss(*(F.avg_pool2d(t, COLOUR_WINDOW, stride=1) for t in (fake, real)))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur over 6 sigma + 1 px, borders replicated."""
    import kornia  # here, not at the top: inference never blurs

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
