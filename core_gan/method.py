"""What a method declares, so that the glue (the CLI, evaluation, export, the apps) needs no knowledge
of it: its data, networks, objective, recipe, what it exports and how a run of it is evaluated.

Each method file ends with its :class:`ModelSpec` (``SPEC``); ``gansuite/registry.py`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from core_gan.nn import init_weights
from core_gan.objective import Batch, Objective
from core_gan.recipe import Recipe

DataKind = Literal["paired", "unpaired", "sr", "unconditional", "class-conditional"]
Evaluation = Literal["paired", "cycle", "one-way", "none"]
"""How ``gansuite eval run`` scores a run: its outputs against the targets of a paired split; the cycle
reconstructions of a two-generator translator; one translation direction (against a known answer when
the data has one); or not at all (generative models: ``gansuite eval fid``)."""


@dataclass(frozen=True)
class Parts:
    """What the glue assembles from the data and the flags for a method to build its objective from."""

    generators: dict[str, nn.Module]
    discriminators: dict[str, nn.Module]
    loss: Any = None
    preview: Batch = ()
    """The fixed inputs of the sample grids."""
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    condition_channels: int = 3
    """Channels of a paired input that are the condition (the rest: colour hints)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """What only some methods read: a base GAN's ``game``, ``unroll`` and ``acgan`` configs, the
    ``vgg_weights`` path of a VGG loss."""


@dataclass(frozen=True)
class ModelSpec:
    """A method as the glue sees it.

    ``generators`` / ``discriminators`` build the networks from a ``config_cls`` instance; ``objective``
    builds the objective from :class:`Parts`; ``exports``: direction -> the generator that translates it
    (a one-generator translator runs in the direction it was trained in); ``init``: the initialisation
    of fresh networks (None: they initialise themselves); ``starts_from``: what the paper trains from,
    said when ``--init`` is missing."""

    name: str
    description: str
    data: DataKind
    config_cls: type
    generators: Callable[[Any], dict[str, nn.Module]]
    discriminators: Callable[[Any], dict[str, nn.Module]]
    objective: Callable[[Parts], Objective]
    recipe: Recipe
    exports: dict[str, str] = field(default_factory=lambda: {"AtoB": "G"})
    evaluation: Evaluation = "none"
    init: Callable[[nn.Module], None] | None = init_weights
    starts_from: str = ""

    @property
    def family(self) -> str:
        """The command line and data loading it shares with others: base, paired, unpaired or sr."""
        return "base" if self.data in ("unconditional", "class-conditional") else self.data

    @property
    def translates(self) -> bool:
        return self.data in ("paired", "unpaired")
