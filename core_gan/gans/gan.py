"""Generative adversarial nets (Goodfellow et al. 2014): min_G max_D V(D, G) (Eq. 1), with the
non-saturating generator loss of section 3, and the least-squares (Mao et al. 2017) and hinge
(Lim & Ye 2017) games on the same objective. Also the R1 penalty (Mescheder et al. 2018) and
unrolled D (Metz et al. 2017), which any game can use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.func import functional_call

from core_gan.config import option
from core_gan.losses import GANLoss, critic_scores, r1_penalty
from core_gan.method import ModelSpec, Parts
from core_gan.metrics.diversity import diversity
from core_gan.models.mlp import MLPDiscriminator, MLPGANConfig, MLPGenerator
from core_gan.objective import Batch, Losses, Networks
from core_gan.recipe import Recipe, Schedule

Critic = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GANGameConfig:
    """The divergence-style games: ``loss`` and an optional R1 penalty on real data."""

    loss: Literal["minimax", "nonsaturating", "lsgan", "hinge"] = option("nonsaturating", "the adversarial loss")
    r1: float = option(0.0, "R1 penalty weight gamma on real data (0: off)", low=0)
    mode_seeking: float = option(0.0, "weight w of the mode-seeking term (MSGAN; 0: off)", low=0)


class GANGame:
    """D's and G's losses on critic outputs (``loss``: a core_gan.losses name), an R1 penalty of weight
    ``r1`` (0: off), and what the game needs after D's step (nothing here).

    ``mode_seeking`` w (Mao et al., "Mode seeking generative adversarial networks", CVPR 2019, Eq. 3): G's
    loss gains w / (d(G(z1), G(z2)) / d(z1, z2) + 1e-5) for two latents of the same condition, so that G
    pays for drawing one sample whatever its latent (the within-class collapse of a conditional GAN)."""

    def __init__(self, loss: str, r1: float = 0.0, mode_seeking: float = 0.0) -> None:
        self.loss = GANLoss(loss)
        self.r1 = r1
        self.mode_seeking = mode_seeking

    def d_adversarial(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.loss.d_loss(real_logits, fake_logits)

    def penalties(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> Losses:
        return {"r1": r1_penalty(critic, real, self.r1)} if self.r1 > 0 else {}

    def g_adversarial(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.loss.g_loss(fake_logits)

    def after_d_step(self, D: nn.Module) -> None:
        """Nothing: this game needs no constraint on D."""


@dataclass(frozen=True)
class UnrollConfig:
    """Unrolled GAN (Metz et al. 2017): G's loss against D after ``unroll`` look-ahead steps."""

    unroll: int = option(0, "unrolled D steps K for G's update (0: off)", low=0)
    unroll_lr: float = option(0.01, "step size of the unrolled D updates", low=0, low_open=True)


class GANObjective(Networks):
    """An unconditional GAN playing ``game``. Batches are ``(x, y)``: samples and labels (unused)."""

    preview_columns = 8

    def __init__(self, G: nn.Module, D: nn.Module, game: GANGame, unroll: UnrollConfig = UnrollConfig()) -> None:
        super().__init__({"G": G}, {"D": D})
        self.game = game
        self.unroll = unroll
        self.latent_dim: int = G.config.latent_dim

    @property
    def G(self) -> nn.Module:
        return self.generators["G"]

    @property
    def D(self) -> nn.Module:
        return self.discriminators["D"]

    def labels(self, y: torch.Tensor) -> torch.Tensor | None:
        """The labels the networks see: none for an unconditional GAN."""
        return None

    def generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return G(z)

    def critic(self, y: torch.Tensor | None) -> Critic:
        """D as a function of the images alone."""
        return self.D

    def critic_args(self, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        """D's arguments after the images (labels for a conditioned D)."""
        return ()

    def class_terms(self, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None, real: bool) -> Losses:
        """Extra classification terms (AC-GAN); none here."""
        return {}

    def _fake(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        z = torch.randn(x.shape[0], self.latent_dim, device=x.device)
        return self.generate(self.G, z, y)

    def d_loss(self, batch: Batch) -> Losses:
        x, y = batch
        y = self.labels(y)
        with torch.no_grad():
            fake = self._fake(x, y)
        critic = self.critic(y)
        real_logits, fake_logits = critic(x), critic(fake)
        losses = {"adv": self.game.d_adversarial(real_logits, fake_logits)}
        losses.update(self.game.penalties(critic, x, fake))
        losses.update(self.class_terms(x, fake, y, real=True))
        losses["total"] = sum(losses.values())
        self.diagnostics.update(critic_scores(self.game.loss.kind, real_logits, fake_logits))
        return losses

    def after_d_step(self) -> None:
        self.game.after_d_step(self.D)

    def g_loss(self, batch: Batch) -> Losses:
        x, y = batch
        y = self.labels(y)
        fake, seeking = self._fake_and_mode_seeking(x, y) if self.game.mode_seeking > 0 else (self._fake(x, y), {})
        critic = self._unrolled_critic(x, fake, y) if self.unroll.unroll > 0 else self.critic(y)
        losses = {"adv": self.game.g_adversarial(critic(fake)), **seeking}
        losses.update(self.class_terms(x, fake, y, real=False))
        losses["total"] = sum(losses.values())
        return losses

    def _fake_and_mode_seeking(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, Losses]:
        """G(z1, y) and the mode-seeking term against G(z2, y), both drawn in one pass (one set of batch
        statistics), with MSGAN's code's distances: mean absolute differences of images over latents'."""
        n = x.shape[0]
        z = torch.randn(2 * n, self.latent_dim, device=x.device)
        both = self.generate(self.G, z, torch.cat([y, y]) if y is not None else None)
        fake, other = both[:n], both[n:]
        ratio = (fake.float() - other.float()).abs().mean() / (z[:n] - z[n:]).abs().mean()
        return fake, {"mode_seeking": self.game.mode_seeking / (ratio + 1e-5)}

    def _unrolled_critic(self, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None) -> Critic:
        """D after K differentiable gradient steps on its loss (Metz et al. 2017, Eq. 5-7).

        G's loss is taken against this look-ahead D, and back-propagates through the K updates, so G
        is penalised for moves that D could answer in a few steps (what drives mode hopping).
        """
        params = {name: p.detach().requires_grad_(True) for name, p in self.D.named_parameters()}
        buffers = {k: v.clone() for k, v in self.D.named_buffers()}
        for _ in range(self.unroll.unroll):
            critic = self._functional_critic(params, buffers, y)
            d_loss = self.game.d_adversarial(critic(x), critic(fake))
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = {name: p - self.unroll.unroll_lr * g for (name, p), g in zip(params.items(), grads, strict=True)}
        return self._functional_critic(params, buffers, y)

    def _functional_critic(self, params, buffers, y: torch.Tensor | None) -> Critic:
        state = {**params, **buffers}
        return lambda images: functional_call(self.D, state, (images, *self.critic_args(y)))

    def preview_labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        return None

    def sample_diagnostics(self, preview: torch.Tensor, real: Callable[[], Batch]) -> dict[str, float]:
        """The preview samples' diversity relative to the real data's (per class for a conditional GAN)."""
        x, y = real()
        labels = self.preview_labels(len(preview), preview.device)
        return diversity(preview, x, labels, y if labels is not None else None)

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """n samples at latents fixed by ``seed``."""
        G = generators["G"]
        device = next(G.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
        return self.generate(G, z, self.preview_labels(n, device))


RECIPE = Recipe(
    citation="Goodfellow et al. 2014, with an MLP G and D; the settings measured on ring8 "
    "(benchmarks/bench_ring8.py): all 8 modes need D's minibatch-stddev feature (Karras et al. 2018), "
    "high-quality samples the EMA of G and a learning rate decayed over the second half",
    schedule=Schedule(steps=20_000, batch_size=256, lr=1e-3, decay_fraction=0.5, ema=0.999),
    loss=GANGameConfig(),
    network=MLPGANConfig(latent_dim=64, hidden=128, layers=3, minibatch_std=True),
)


def objective(parts: Parts) -> GANObjective:
    """The game and unrolling the flags chose (``parts.extras``), on G and D."""
    return GANObjective(parts.generators["G"], parts.discriminators["D"], parts.extras["game"], parts.extras["unroll"])


SPEC = ModelSpec(
    "gan", "MLP GAN (Goodfellow et al. 2014)", "unconditional", MLPGANConfig,
    lambda c: {"G": MLPGenerator(c)}, lambda c: {"D": MLPDiscriminator(c)}, objective, RECIPE,
)  # fmt: skip
