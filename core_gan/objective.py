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

from core_gan.metrics.diversity import translation_diversity

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

    diagnostics: Losses

    def sample_diagnostics(self, preview: torch.Tensor, real: Callable[[], Batch]) -> dict[str, float]: ...

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
        self.diagnostics: Losses = {}
        """Detached scalars the losses computed anyway (D's outputs, how far G moved its input), which the
        trainer logs under ``diag/`` and core_gan.diagnosis reads."""

    def sample_diagnostics(self, preview: torch.Tensor, real: Callable[[], Batch]) -> dict[str, float]:
        """Figures of a sample grid (:meth:`preview`'s rows), given a fixed batch of real data (on demand):
        for a translator, whose rows start input | output, how much the outputs vary beside the inputs."""
        columns = preview.unflatten(0, (-1, self.preview_columns))
        return translation_diversity(columns[:, 0], columns[:, 1])

    @torch.no_grad()
    def note_change(self, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor, suffix: str = "") -> None:
        """For a translator: ``change``, how far G moved its input (mean |G(x) - x|), beside ``data_change``,
        how far the data's outputs lie from its inputs (mean |y - x|: the pair's target, or an image of the
        other domain). G(x) ~ x while D is not fooled is an identity collapse."""
        x = x[:, : fake.shape[1]]
        if x.shape == fake.shape == y.shape:
            self.diagnostics["change" + suffix] = (fake.float() - x.float()).abs().mean()
            self.diagnostics["data_change" + suffix] = (y.float() - x.float()).abs().mean()

    def after_d_step(self) -> None:
        """What follows each update of D: nothing, unless the game constrains D (WGAN's weight clipping)."""

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
