"""DCGAN (Radford et al. 2016): the all-convolutional G and D of core_gan.models.dcgan trained on the
standard GAN game (core_gan.gans.gan) with the paper's recipe (section 4): Adam, learning rate
2e-4, beta1 0.5, mini-batches of 128, weights from N(0, 0.02)."""

from __future__ import annotations

from core_gan.gans.gan import GANGameConfig, objective
from core_gan.method import ModelSpec
from core_gan.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from core_gan.recipe import Recipe, Schedule

RECIPE = Recipe(
    citation="Radford et al. 2016, section 4",
    schedule=Schedule(steps=20_000, batch_size=128, lr=2e-4, betas=(0.5, 0.999)),
    loss=GANGameConfig(),
    network=DCGANConfig(),
)
SPEC = ModelSpec(
    "dcgan", "DCGAN (Radford et al. 2016)", "unconditional", DCGANConfig,
    lambda c: {"G": DCGANGenerator(c)}, lambda c: {"D": DCGANDiscriminator(c)}, objective, RECIPE,
)  # fmt: skip
