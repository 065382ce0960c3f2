"""WGAN with gradient penalty (Gulrajani et al. 2017): the critic loss of WGAN plus
lambda E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat of real and fake samples (Eq. 3),
lambda = 10; Adam at 1e-4 with betas (0, 0.9), n_critic = 5 (Algorithm 1). The penalty is per sample,
so the critic has no batch norm (section 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core_gan.config import option
from core_gan.gans.gan import Critic, GANGame
from core_gan.losses import gradient_penalty
from core_gan.objective import Losses
from core_gan.recipe import Recipe, Schedule


@dataclass(frozen=True)
class WGANGPConfig:
    """Algorithm 1's penalty weight lambda."""

    gp_weight: float = option(10.0, "gradient penalty weight lambda", low=0)


class WGANGPGame(GANGame):
    """WGAN's losses with the gradient penalty instead of clipping."""

    def __init__(self, config: WGANGPConfig) -> None:
        super().__init__("wgan-gp")
        self.gp_weight = config.gp_weight

    def penalties(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> Losses:
        return {"gp": gradient_penalty(critic, real, fake, self.gp_weight)}


RECIPE = Recipe(
    citation="Gulrajani et al. 2017, Algorithm 1: lambda = 10, n_critic = 5, Adam 1e-4 (0, 0.9), m = 64",
    schedule=Schedule(steps=20_000, batch_size=64, lr=1e-4, betas=(0.0, 0.9), d_steps=5),
    loss=WGANGPConfig(),
    network=None,
)
