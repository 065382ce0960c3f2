"""A method's paper recipe: how long and how fast it trains, its loss weights and its networks.

Each method module (``translation/pix2pix.py``, ``core_gan/gans/wgan.py``, ...) exports one
:class:`Recipe` beside its objective, citing the paper; "what are pix2pix's defaults?" has one
answer. A user's flags replace single fields of it (:func:`dataclasses.replace`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core_gan.config import option

Optimizer = Literal["adam", "rmsprop"]
LRPolicy = Literal["linear", "step", "cosine", "halving"]


@dataclass(frozen=True)
class Schedule:
    """The optimisation part of a recipe. ``epochs`` > 0 sets the length in passes over the data,
    else ``steps`` (generator steps). ``decay_fraction``: with the ``linear`` policy the learning
    rates decay to 0 over this last fraction of the run (pix2pix: the second 100 of 200 epochs); with
    ``step`` they are multiplied by 0.1 after each such fraction (SRGAN: 1e-4, then 1e-5)."""

    steps: int = option(10_000, "total generator steps", low=1)
    epochs: int = option(0, "total epochs over the data (0: use --steps)", low=0)
    batch_size: int = option(64, "images per step (per process under torchrun)", low=1)
    lr: float = option(2e-4, "learning rate of G (and of D unless --lr-d)", low=0, low_open=True)
    lr_d: float = option(0.0, "learning rate of D (0: the same as --lr)", low=0)
    betas: tuple[float, float] = (0.5, 0.999)
    optimizer: Optimizer = "adam"
    d_steps: int = option(1, "discriminator steps per generator step", low=1)
    lr_policy: LRPolicy = option("linear", "learning-rate schedule")
    decay_fraction: float = option(0.0, "the last fraction of the run over which the lrs decay", low=0, high=1)
    ema: float = option(0.0, "decay of the EMA of G's weights (0: off; 0.999 is typical)", low=0, high=1)
    decay_steps: int | None = option(
        None, "decay the lrs over the last N steps (default: the recipe's fraction of the run)", low=0
    )


@dataclass(frozen=True)
class Recipe:
    """A paper's settings: ``schedule``, the loss config and the network config (fields derived from
    the data, e.g. channels, are filled in at build time); ``crop_size``: its training crops (0: none, or
    the network's own size); ``best_metric``: the validation metric, higher is better, that keeps
    ``RUN/best`` (empty: none)."""

    citation: str
    schedule: Schedule
    loss: Any
    network: Any
    crop_size: int = 0
    best_metric: str = ""
