"""Class-conditional GANs on the DCGAN networks: G(z, y) with a label embedding concatenated to z
(Mirza & Osindero 2014) and optionally class-conditional batch norm (Dumoulin et al. 2017); D sees
the label by an input embedding map (``concat``), by the projection <embed(y), phi(x)> (Miyato &
Koyama 2018, Eq. 3), or not at all and classifies instead (``acgan``: Odena et al. 2017, Eq. 1-2:
both networks maximise the log-likelihood of the right class, L_C, next to the adversarial game).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import option
from core_gan.gans.dcgan import RECIPE as DCGAN_RECIPE
from core_gan.gans.dcgan import SPEC as DCGAN_SPEC
from core_gan.gans.gan import Critic, GANGame, GANObjective, UnrollConfig
from core_gan.method import Parts
from core_gan.objective import Losses
from core_gan.recipe import Recipe


@dataclass(frozen=True)
class ACGANConfig:
    """AC-GAN's class term: L_C weighted by ``acgan_weight`` for both D (real and fake) and G."""

    acgan_weight: float = option(1.0, "acgan: weight of the class log-likelihood terms L_C", low=0)


class ConditionalGANObjective(GANObjective):
    """A GAN whose batches ``(x, y)`` carry integer labels y (B,) that G is asked to generate."""

    def __init__(
        self, G: nn.Module, D: nn.Module, game: GANGame, unroll: UnrollConfig = UnrollConfig(),
        acgan: ACGANConfig = ACGANConfig(),
    ) -> None:  # fmt: skip
        super().__init__(G, D, game, unroll)
        self.num_classes: int = G.config.num_classes
        self.acgan = G.config.conditioning == "acgan"
        self.acgan_weight = acgan.acgan_weight

    def labels(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return G(z, y)

    def critic(self, y: torch.Tensor | None) -> Critic:
        """D with the labels bound, unless D is AC-GAN's, which judges images alone."""
        return self.D if self.acgan else (lambda x: self.D(x, y))

    def critic_args(self, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        return () if self.acgan or y is None else (y,)

    def class_terms(self, x: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None, real: bool) -> Losses:
        """AC-GAN's L_C: cross-entropy of D's class head on real and fake images (D's step) or on
        the fakes alone (G's step)."""
        if not self.acgan or y is None:
            return {}
        if real:
            logits, labels = self.D.classify(torch.cat([x, fake])), torch.cat([y, y])
        else:
            logits, labels = self.D.classify(fake), y
        return {"cls": self.acgan_weight * F.cross_entropy(logits.float(), labels)}

    def preview_labels(self, n: int, device: torch.device) -> torch.Tensor:
        """The preview grid cycles through the classes."""
        return torch.arange(n, device=device) % self.num_classes


RECIPE = Recipe(
    citation="DCGAN's recipe (Radford et al. 2016, section 4) on the conditional networks",
    schedule=DCGAN_RECIPE.schedule,
    loss=DCGAN_RECIPE.loss,
    network=DCGAN_RECIPE.network,
)


def objective(parts: Parts) -> ConditionalGANObjective:
    x = parts.extras
    return ConditionalGANObjective(parts.generators["G"], parts.discriminators["D"], x["game"], x["unroll"], x["acgan"])


SPEC = replace(
    DCGAN_SPEC, name="cgan", description="class-conditional DCGAN (concat / projection / AC-GAN)",
    data="class-conditional", objective=objective, recipe=RECIPE,
)  # fmt: skip
