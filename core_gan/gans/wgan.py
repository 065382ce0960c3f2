"""Wasserstein GAN (Arjovsky et al. 2017): the critic f maximises E[f(x)] - E[f(G(z))] (Eq. 3), kept
K-Lipschitz by clipping its weights to [-c, c] after every update; n_critic = 5 critic steps per
generator step with RMSProp at 5e-5 and batch 64 (Algorithm 1)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from core_gan.config import option
from core_gan.gans.gan import GANGame
from core_gan.losses import clip_weights
from core_gan.recipe import Recipe, Schedule


@dataclass(frozen=True)
class WGANConfig:
    """Algorithm 1's clipping parameter c."""

    clip: float = option(0.01, "weight clip c of the critic", low=0, low_open=True)


class WGANGame(GANGame):
    """The critic loss E[f(G(z))] - E[f(x)], G's loss -E[f(G(z))], and clipping after each critic step."""

    def __init__(self, config: WGANConfig) -> None:
        super().__init__("wgan")
        self.clip = config.clip

    def after_d_step(self, D: nn.Module) -> None:
        clip_weights(D, self.clip)


RECIPE = Recipe(
    citation="Arjovsky et al. 2017, Algorithm 1: alpha = 5e-5, c = 0.01, m = 64, n_critic = 5",
    schedule=Schedule(steps=20_000, batch_size=64, lr=5e-5, optimizer="rmsprop", d_steps=5),
    loss=WGANConfig(),
    network=None,
)
