"""Objectives: what one GAN optimises, as phases the trainer calls (stylegan2-ada's ``loss`` object).

The trainer owns the loop, optimisers, precision, EMA and I/O; an objective owns the networks and
knows how to compute D's loss and G's loss from a batch. Losses are returned as dicts of scalar
tensors; the trainer back-propagates ``"total"`` and logs the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from core_gan.losses import GANLoss, clip_weights, gradient_penalty, r1_penalty

Batch = tuple[torch.Tensor, ...]
Losses = dict[str, torch.Tensor]
T = TypeVar("T")


class Objective(Protocol):
    """What the trainer needs of a GAN method."""

    generators: nn.ModuleDict
    discriminators: nn.ModuleDict
    preview_columns: int

    def d_loss(self, batch: Batch) -> Losses: ...

    def g_loss(self, batch: Batch) -> Losses: ...

    def after_d_step(self) -> None: ...

    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor: ...


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


@dataclass(frozen=True)
class AdversarialConfig:
    """The adversarial game of the base GANs.

    ``loss``: one of core_gan.losses.LOSSES. ``gp_weight``: WGAN-GP's lambda. ``clip``: WGAN's weight
    clip. ``r1_gamma``: R1 penalty on real data (0 = off). ``unroll``: unrolled-GAN steps K for G's
    update (Metz et al. 2017; 0 = off), taken as plain gradient steps of size ``unroll_lr``.
    ``acgan_weight``: weight of AC-GAN's class log-likelihood terms.
    """

    loss: str = "nonsaturating"
    gp_weight: float = 10.0
    clip: float = 0.01
    r1_gamma: float = 0.0
    unroll: int = 0
    unroll_lr: float = 0.01
    acgan_weight: float = 1.0


class BaseGANObjective:
    """min_G max_D V(D, G) for the MLP GAN, DCGAN and the class-conditional DCGAN.

    Batches are ``(x, y)``: samples and integer labels (ignored by unconditional models).
    """

    preview_columns = 8

    def __init__(self, G: nn.Module, D: nn.Module, config: AdversarialConfig) -> None:
        self.generators = nn.ModuleDict({"G": G})
        self.discriminators = nn.ModuleDict({"D": D})
        self.config = config
        self.loss = GANLoss(config.loss)
        g_config = G.config
        self.latent_dim: int = g_config.latent_dim
        self.num_classes: int = getattr(g_config, "num_classes", 0)
        self.acgan = self.num_classes > 0 and getattr(g_config, "conditioning", "") == "acgan"

    @property
    def G(self) -> nn.Module:
        return self.generators["G"]

    @property
    def D(self) -> nn.Module:
        return self.discriminators["D"]

    def _labels(self, y: torch.Tensor) -> torch.Tensor | None:
        return y if self.num_classes else None

    def _generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return G(z, y) if self.num_classes else G(z)

    def _critic(self, y: torch.Tensor | None):
        """D as a function of the images alone, with labels bound where D is conditioned on them."""
        if self.num_classes and not self.acgan:
            return lambda x: self.D(x, y)
        return self.D

    def _fake(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        return self._generate(self.G, z, y)

    def d_loss(self, batch: Batch) -> Losses:
        x, y = batch
        y = self._labels(y)
        with torch.no_grad():
            fake = self._fake(x, y)
        critic = self._critic(y)
        real_logits, fake_logits = critic(x), critic(fake)
        losses = {"adv": self.loss.d_loss(real_logits, fake_logits)}
        if self.config.loss == "wgan-gp":
            losses["gp"] = gradient_penalty(critic, x, fake, self.config.gp_weight)
        if self.config.r1_gamma > 0:
            losses["r1"] = r1_penalty(critic, x, self.config.r1_gamma)
        if self.acgan:
            classes = self.D.classify(torch.cat([x, fake]))
            losses["cls"] = self.config.acgan_weight * F.cross_entropy(classes.float(), torch.cat([y, y]))
        losses["total"] = sum(losses.values())
        losses["real_score"] = real_logits.detach().float().mean()
        losses["fake_score"] = fake_logits.detach().float().mean()
        return losses

    def after_d_step(self) -> None:
        if self.config.loss == "wgan":
            clip_weights(self.D, self.config.clip)

    def g_loss(self, batch: Batch) -> Losses:
        x, y = batch
        y = self._labels(y)
        fake = self._fake(x, y)
        critic = self._unrolled_critic(x, fake, y) if self.config.unroll > 0 else self._critic(y)
        fake_logits = critic(fake)
        losses = {"adv": self.loss.g_loss(fake_logits)}
        if self.acgan:
            losses["cls"] = self.config.acgan_weight * F.cross_entropy(self.D.classify(fake).float(), y)
        losses["total"] = sum(losses.values())
        return losses

    def _unrolled_critic(self, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None):
        """D after K differentiable gradient steps on its loss (Metz et al. 2017, Eq. 5-7).

        G's loss is taken against this look-ahead D, and back-propagates through the K updates, so G
        is penalised for moves that D could answer in a few steps (what drives mode hopping).
        """
        params = {name: p.detach().requires_grad_(True) for name, p in self.D.named_parameters()}
        buffers = {k: v.clone() for k, v in self.D.named_buffers()}
        for _ in range(self.config.unroll):
            critic = self._functional_critic(params, buffers, y)
            d_loss = self.loss.d_loss(critic(x), critic(fake))
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = {name: p - self.config.unroll_lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
        return self._functional_critic(params, buffers, y)

    def _functional_critic(self, params, buffers, y: torch.Tensor | None):
        state = {**params, **buffers}
        args = (y,) if self.num_classes and not self.acgan else ()
        return lambda images: functional_call(self.D, state, (images, *args))

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """n samples at latents fixed by ``seed``; conditional models cycle through the classes."""
        G = generators["G"]
        device = next(G.parameters()).device
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen).to(device)
        y = torch.arange(n, device=device) % self.num_classes if self.num_classes else None
        return self._generate(G, z, y)
