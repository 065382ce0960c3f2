"""Adversarial losses, one function per loss, each on raw discriminator outputs (logits).

Every function takes logits of any shape (a score per image, or a PatchGAN map) and averages over
all elements. ``D(x)`` below means ``sigmoid(logits)`` for the probabilistic losses and the raw
critic value for WGAN and hinge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

LossName = Literal["minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge"]
LOSSES: tuple[str, ...] = ("minimax", "nonsaturating", "lsgan", "wgan", "wgan-gp", "hinge")


def minimax_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))]: D's side of the value function V(D, G), Goodfellow et al. Eq. 1.

    Also D's loss for the non-saturating game (only G's loss differs).
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): G minimises the value function itself (Goodfellow et al. Eq. 1).

    Saturates: when D confidently rejects fakes (D(G(z)) -> 0) the gradient vanishes.
    """
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the heuristic of Goodfellow et al. section 3, strong gradients early in training."""
    return F.softplus(-fake_logits).mean()


def lsgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]: least squares GAN, Mao et al. 2017 Eq. 9 (a=0, b=c=1)."""
    return 0.5 * ((real_logits - 1).pow(2).mean() + fake_logits.pow(2).mean())


def lsgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """1/2 E[(D(G(z)) - 1)^2]: least squares GAN, Mao et al. 2017 Eq. 9."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


def wgan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[f(G(z))] - E[f(x)]: the critic maximises the Kantorovich-Rubinstein dual (Arjovsky et al. Eq. 3)."""
    return fake_logits.mean() - real_logits.mean()


def wgan_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[f(G(z))]: G minimises the critic's estimate of the Wasserstein-1 distance."""
    return -fake_logits.mean()


def hinge_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]: Lim & Ye 2017; Miyato et al. 2018 Eq. 16."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]: G's side of the hinge game (Miyato et al. 2018 Eq. 17)."""
    return -fake_logits.mean()


@torch.no_grad()
def clip_weights(module: nn.Module, clip: float = 0.01) -> None:
    """Clamp every parameter of the critic to [-clip, clip]: WGAN's crude Lipschitz constraint (Alg. 1)."""
    for p in module.parameters():
        p.clamp_(-clip, clip)


def _input_grad_norm(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Per-sample ||grad_x critic(x)||_2 with a graph, so penalties on it can be back-propagated."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    weight: float = 10.0,
) -> torch.Tensor:
    """lambda * E[(||grad D(x_hat)||_2 - 1)^2] on x_hat = eps x + (1 - eps) G(z): Gulrajani et al. Eq. 3."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return weight * (_input_grad_norm(critic, x_hat) - 1).pow(2).mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, gamma: float = 10.0) -> torch.Tensor:
    """gamma/2 * E[||grad D(x)||^2] on real data: Mescheder et al. 2018 Eq. 9."""
    return 0.5 * gamma * _input_grad_norm(critic, real).pow(2).mean()


def relativistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average D (ESRGAN Eq. 1-2; Jolicoeur-Martineau 2019): D_Ra(x_r, x_f) =
    sigma(C(x_r) - E[C(x_f)]); L_D = -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))], halved per
    term as in BasicSR."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean())


def relativistic_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """G's side (ESRGAN Eq. 2, symmetric): -E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)], halved;
    G gets gradients from both real and fake logits."""
    real, fake = real_logits.float(), fake_logits.float()
    return 0.5 * (F.softplus(real - fake.mean()).mean() + F.softplus(-(fake - real.mean())).mean())


_D_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "minimax": minimax_d_loss,
    "nonsaturating": minimax_d_loss,
    "lsgan": lsgan_d_loss,
    "wgan": wgan_d_loss,
    "wgan-gp": wgan_d_loss,
    "hinge": hinge_d_loss,
}
_G_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "minimax": minimax_g_loss,
    "nonsaturating": nonsaturating_g_loss,
    "lsgan": lsgan_g_loss,
    "wgan": wgan_g_loss,
    "wgan-gp": wgan_g_loss,
    "hinge": hinge_g_loss,
}


def decision_threshold(kind: str) -> float:
    """The output at which D is undecided: 0.5 between LSGAN's targets 0 and 1, else 0 (a logit, a critic)."""
    return 0.5 if kind == "lsgan" else 0.0


@torch.no_grad()
def critic_scores(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """What D's outputs say about the game (for the diagnostics, no gradient): their means on real and on
    generated images, and r_t = E[sign(D(real) - t)] with t the decision threshold, the overfitting
    heuristic of StyleGAN2-ADA (Karras et al. 2020, section 3): 0 when D cannot tell, 1 when it is sure of
    every real image."""
    t = decision_threshold(kind)
    return {
        "D_real": real_logits.float().mean(),
        "D_fake": fake_logits.float().mean(),
        "r_t": torch.sign(real_logits.float() - t).mean(),
    }


class GANLoss(nn.Module):
    """The module form of the functions above: ``GANLoss("lsgan").d_loss(real, fake)``.

    The gradient penalty of ``wgan-gp`` needs the critic and the images: :meth:`critic_losses` adds
    it for the translation objectives (the base GANs' WGAN-GP game calls :func:`gradient_penalty` itself);
    ``wgan`` needs :func:`clip_weights` after each critic step.
    """

    def __init__(self, kind: str = "nonsaturating") -> None:
        super().__init__()
        if kind not in _D_LOSSES:
            raise ValueError(f"unknown GAN loss {kind!r}; expected one of {LOSSES}")
        self.kind = kind

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return _D_LOSSES[self.kind](real_logits.float(), fake_logits.float())

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return _G_LOSSES[self.kind](fake_logits.float())

    def critic_losses(
        self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
        gp_weight: float = 10.0, scale: float = 1.0, scores: dict[str, torch.Tensor] | None = None, suffix: str = "",
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        """``adv``: ``scale`` times D's loss on ``real`` vs ``fake`` (detached) through ``critic``; with
        ``wgan-gp``, ``gp``: the gradient penalty of weight ``gp_weight`` (Gulrajani et al. Eq. 3).
        :func:`critic_scores` go into ``scores`` (when given), their names ending in ``suffix``."""
        real_logits, fake_logits = critic(real), critic(fake.detach())
        if scores is not None:
            scores.update({k + suffix: v for k, v in critic_scores(self.kind, real_logits, fake_logits).items()})
        losses = {"adv": scale * self.d_loss(real_logits, fake_logits)}
        if self.kind == "wgan-gp":
            losses["gp"] = gradient_penalty(critic, real, fake, gp_weight)
        return losses

    def forward(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return self.d_loss(real_logits, fake_logits)
