"""Objectives: what one GAN optimises, as phases the trainer calls (stylegan2-ada's ``loss`` object).

The trainer owns the loop, optimisers, precision, EMA and I/O; an objective owns the networks and
knows how to compute D's loss and G's loss from a batch. Losses are returned as dicts of scalar
tensors; the trainer back-propagates ``"total"`` and logs the rest. The objectives themselves are
beside their papers: core_gan.gans (the base GANs), translation (pix2pix, CycleGAN, SRGAN, ESRGAN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

Batch = tuple[torch.Tensor, ...]
Losses = dict[str, torch.Tensor]
T = TypeVar("T")


class Objective(Protocol):
    """What the trainer needs of a GAN method."""

    generators: nn.ModuleDict
    discriminators: nn.ModuleDict
    auxiliaries: nn.ModuleDict
    preview_columns: int

    def create_auxiliaries(self, batch: Batch) -> bool: ...

    def use_auxiliaries(self, auxiliaries: nn.ModuleDict) -> None: ...

    def d_loss(self, batch: Batch) -> Losses: ...

    def g_loss(self, batch: Batch) -> Losses: ...

    def after_d_step(self) -> None: ...

    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor: ...

    def use_networks(self, generators: nn.ModuleDict, discriminators: nn.ModuleDict) -> None: ...


class Networks:
    """Base of every objective: the networks it computes with, declared by role.

    - ``generators``: trained on G's loss, averaged by the EMA, exported for inference;
    - ``discriminators``: trained on D's loss, in their own phase before G's;
    - ``auxiliaries``: trained on G's loss by an optimiser of their own, neither averaged nor exported
      (CUT's PatchNCE head). An objective whose auxiliaries take their shapes from the data creates them
      in :meth:`create_auxiliaries`, which the trainer calls with the first batch it draws.

    The objective is built on the plain networks; the trainer, which owns where they run, hands it
    the ones to use instead (their DistributedDataParallel wrappers under torchrun) with
    :meth:`use_networks` and :meth:`use_auxiliaries`: the same parameters, so the optimisers are unchanged."""

    def __init__(
        self, generators: dict[str, nn.Module], discriminators: dict[str, nn.Module],
        auxiliaries: dict[str, nn.Module] | None = None,
    ) -> None:  # fmt: skip
        self.generators = nn.ModuleDict(generators)
        self.discriminators = nn.ModuleDict(discriminators)
        self.auxiliaries = nn.ModuleDict(auxiliaries or {})

    def create_auxiliaries(self, batch: Batch) -> bool:
        """Create the auxiliaries that are built from data (True if it did); here there are none."""
        return False

    def use_auxiliaries(self, auxiliaries: nn.ModuleDict) -> None:
        if auxiliaries.keys() != self.auxiliaries.keys():
            raise ValueError("use_auxiliaries: the networks must have the objective's names")
        self.auxiliaries = auxiliaries

    def use_networks(self, generators: nn.ModuleDict, discriminators: nn.ModuleDict) -> None:
        if generators.keys() != self.generators.keys() or discriminators.keys() != self.discriminators.keys():
            raise ValueError("use_networks: the networks must have the objective's names")
        self.generators, self.discriminators = generators, discriminators


class FakeCache:
    """G's outputs made in D's phase of a step and reused, graph included, in G's phase on the same batch
    (as the reference pix2pix/CycleGAN code does): one generator forward per step instead of two."""

    def __init__(self) -> None:
        self._entry: tuple[Batch, Any] | None = None

    def put(self, batch: Batch, fakes: T) -> T:
        self._entry = (batch, fakes)
        return fakes

    def take(self, batch: Batch, compute: Callable[[], T]) -> T:
        """The stored fakes if they were made from this very ``batch``, else ``compute()``; empties the cache."""
        entry, self._entry = self._entry, None
        return entry[1] if entry is not None and entry[0] is batch else compute()
