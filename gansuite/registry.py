"""Model names on the command line -> their configs and networks. Filled by explicit imports only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from core_gan.errors import UserError
from core_gan.gans import cgan, dcgan, gan
from core_gan.models.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from core_gan.models.mlp import MLPDiscriminator, MLPGANConfig, MLPGenerator
from core_gan.nn import init_weights
from core_gan.recipe import Recipe
from translation import cyclegan, esrgan, pix2pix, srgan


@dataclass(frozen=True)
class ModelSpec:
    """A model: its network config class, how to build its generators and discriminators, and the
    recipe it trains with (None: a network only imported or trained through another model).
    ``dcgan_init``: start from N(0, 0.02) weights; otherwise the networks initialise themselves."""

    name: str
    family: str
    description: str
    config_cls: type
    generators: Callable[[Any], dict[str, nn.Module]]
    discriminators: Callable[[Any], dict[str, nn.Module]]
    recipe: Recipe
    dcgan_init: bool = True


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "gan", "base", "MLP GAN (Goodfellow et al. 2014)", MLPGANConfig,
            lambda c: {"G": MLPGenerator(c)}, lambda c: {"D": MLPDiscriminator(c)}, gan.RECIPE,
        ),
        ModelSpec(
            "dcgan", "base", "DCGAN (Radford et al. 2016)", DCGANConfig,
            lambda c: {"G": DCGANGenerator(c)}, lambda c: {"D": DCGANDiscriminator(c)}, dcgan.RECIPE,
        ),
        ModelSpec(
            "cgan", "base", "class-conditional DCGAN (concat / projection / AC-GAN)", DCGANConfig,
            lambda c: {"G": DCGANGenerator(c)}, lambda c: {"D": DCGANDiscriminator(c)}, cgan.RECIPE,
        ),
        ModelSpec(
            "pix2pix", "paired", "pix2pix (Isola et al. 2017): U-Net + PatchGAN, cGAN + 100 L1", pix2pix.Pix2PixConfig,
            lambda c: {"G": pix2pix.build_generator(c)}, lambda c: {"D": pix2pix.build_discriminator(c)},
            pix2pix.RECIPE,
        ),
        ModelSpec(
            "cyclegan", "unpaired", "CycleGAN (Zhu et al. 2017): two ResNet G, two PatchGANs, cycle + identity",
            cyclegan.CycleGANConfig, cyclegan.build_generators, cyclegan.build_discriminators, cyclegan.RECIPE,
        ),
        ModelSpec(
            "srresnet", "sr", "SRResNet (Ledig et al. 2017): super-resolution on a pixel loss",
            srgan.SRResNetConfig, lambda c: {"G": srgan.SRResNet(c)}, lambda c: {}, srgan.SRRESNET_RECIPE,
            dcgan_init=False,
        ),
        ModelSpec(
            "srgan", "sr", "SRGAN (Ledig et al. 2017): SRResNet + VGG content loss + adversarial term",
            srgan.SRResNetConfig, lambda c: {"G": srgan.SRResNet(c)},
            lambda c: {"D": srgan.SRGANDiscriminator(c.channels)}, srgan.SRGAN_RECIPE, dcgan_init=False,
        ),
        ModelSpec(
            "esrgan", "sr", "ESRGAN (Wang et al. 2018): RRDBNet x4 from a PSNR-oriented run, L1 + VGG + RaGAN",
            esrgan.RRDBNetConfig, lambda c: {"G": esrgan.RRDBNet(c)},
            lambda c: {"D": srgan.SRGANDiscriminator(c.channels)}, esrgan.RECIPE, dcgan_init=False,
        ),
    )
}  # fmt: skip


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def build(name: str, config: Any, *, init: bool = True) -> tuple[nn.ModuleDict, nn.ModuleDict]:
    """Fresh generators and discriminators, initialised N(0, 0.02) (DCGAN section 4) when ``init`` and
    the model uses that initialisation."""
    spec = get_spec(name)
    generators = nn.ModuleDict(spec.generators(config))
    discriminators = nn.ModuleDict(spec.discriminators(config))
    if init and spec.dcgan_init:
        init_weights(generators)
        init_weights(discriminators)
    return generators, discriminators
