"""Model names on the command line -> what each method declares (core_gan.method.ModelSpec, at the end of
its file). Adding a method is its file and one line here."""

from __future__ import annotations

from typing import Any

from torch import nn

from core_gan.errors import UserError
from core_gan.gans import cgan, dcgan, gan
from core_gan.method import ModelSpec, Parts
from translation import cut, cyclegan, esrgan, pix2pix, srgan

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        gan.SPEC,
        dcgan.SPEC,
        cgan.SPEC,
        pix2pix.SPEC,
        cyclegan.SPEC,
        cut.CUT,
        cut.FASTCUT,
        srgan.SRRESNET,
        srgan.SRGAN,
        esrgan.SPEC,
    )
}
__all__ = ["MODELS", "ModelSpec", "Parts", "build", "get_spec", "models_of"]


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def models_of(*data: str) -> tuple[str, ...]:
    """The names of the models trained on these kinds of data (core_gan.method.DataKind)."""
    return tuple(name for name, spec in MODELS.items() if spec.data in data)


def model_for(config: Any, spec: ModelSpec) -> str:
    """The model whose networks ``config`` describes: ``spec``'s own, else the first with that config
    class (srresnet trains ESRGAN's RRDBNet for its PSNR stage, and saves it as an esrgan model)."""
    if isinstance(config, spec.config_cls):
        return spec.name
    return next(name for name, s in MODELS.items() if isinstance(config, s.config_cls))


def build(name: str, config: Any, *, init: bool = True) -> tuple[nn.ModuleDict, nn.ModuleDict]:
    """Fresh generators and discriminators, initialised as the method declares when ``init``."""
    spec = get_spec(name)
    generators = nn.ModuleDict(spec.generators(config))
    discriminators = nn.ModuleDict(spec.discriminators(config))
    if init and spec.init is not None:
        spec.init(generators)
        spec.init(discriminators)
    return generators, discriminators
