"""CycleGAN: unpaired image-to-image translation with cycle consistency (Zhu et al., ICCV 2017).

Two generators G: A -> B and F: B -> A (``G_AB``, ``G_BA``) and two PatchGANs D_B, D_A. The full
objective (Eq. 3) is L_GAN(G, D_B) + L_GAN(F, D_A) + lambda L_cyc(G, F), with the L1 cycle terms
||F(G(a)) - a|| and ||G(F(b)) - b|| (Eq. 2), plus the identity term of section 5.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import option
from core_gan.diffaugment import POLICY_HELP, Policy, diff_augment
from core_gan.losses import GANLoss
from core_gan.method import ModelSpec, Parts
from core_gan.models.translators import PatchDiscriminator, Upsampling, make_generator
from core_gan.nn import Norm, acts_per_image
from core_gan.objective import Batch, FakeCache, Losses, Networks
from core_gan.recipe import Recipe
from translation.pix2pix import GAN_MODES, UPSAMPLE_HELP
from translation.pix2pix import RECIPE as PIX2PIX_RECIPE


@dataclass(frozen=True)
class CycleGANConfig:
    """The networks, with the paper's defaults (``resnet_9blocks`` at 256 px, instance norm)."""

    netG: str = option("resnet_9blocks", "G: resnet_9blocks, resnet_6blocks or unet_N (N a power of 2 >= 32)")
    a_nc: int = 3
    b_nc: int = 3
    ngf: int = option(64, "G's width: filters of its first layer", low=1)
    ndf: int = option(64, "D's width: filters of its first layer", low=1)
    n_layers_d: int = option(3, "stride-2 layers of each PatchGAN (3: 70x70 patches)", low=0)
    norm: Norm = option("instance", "normalisation layers of G and D")
    dropout: bool = option(False, "dropout 0.5 in G")
    upsample: Upsampling = option("transpose", UPSAMPLE_HELP)


def build_generators(c: CycleGANConfig) -> dict[str, nn.Module]:
    return {
        "G_AB": make_generator(c.netG, c.a_nc, c.b_nc, c.ngf, c.norm, c.dropout, c.upsample),
        "G_BA": make_generator(c.netG, c.b_nc, c.a_nc, c.ngf, c.norm, c.dropout, c.upsample),
    }


def build_discriminators(c: CycleGANConfig) -> dict[str, nn.Module]:
    """Unconditional PatchGANs: D_A judges images of A, D_B images of B."""
    return {"D_A": PatchDiscriminator(c.a_nc, c.ndf, c.n_layers_d, c.norm),
            "D_B": PatchDiscriminator(c.b_nc, c.ndf, c.n_layers_d, c.norm)}  # fmt: skip


@dataclass(frozen=True)
class CycleGANLoss:
    """LSGAN by default; lambda_A = lambda_B = 10; identity weight 0.5 lambda (0 = off); pool of 50."""

    gan_mode: Literal["vanilla", "lsgan", "wgan-gp", "hinge"] = option("lsgan", "the adversarial loss")
    lambda_a: float = option(10.0, "weight of the cycle term ||F(G(a)) - a||_1", low=0)
    lambda_b: float = option(10.0, "weight of the cycle term ||G(F(b)) - b||_1", low=0)
    lambda_identity: float = option(0.5, "identity weight, times lambda (0: off)", low=0)
    pool_size: int = option(50, "history of generated images shown to D (0: none)", low=0)
    gp_weight: float = option(
        10.0, "gradient penalty weight with --gan-mode wgan-gp", low=0, needs=("gan_mode", "wgan-gp")
    )
    diffaugment: Policy = option("none", POLICY_HELP)


class ImagePool:
    """A history of generated images for D's update (Shrivastava et al. 2017, used by CycleGAN §4).

    Until it holds ``size`` images, each new image is stored and returned; then, with probability
    1/2, a random stored image is returned and replaced by the new one, else the new one is returned.
    The draws come from the pool's own generator (seeded by ``seed``, saved in its state).
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:
                k = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {"generator": self.generator.get_state()}
        return {**state, "images": torch.stack(self.images)} if self.images else state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.images = list(state["images"].unbind(0)) if "images" in state else []
        if "generator" in state:
            self.generator.set_state(state["generator"])


class CycleGANObjective(Networks):
    """Batches are (a, b): unpaired images of the two domains (B, C, H, W) in [-1, 1]."""

    preview_columns = 3

    def __init__(
        self, generators: dict[str, nn.Module], discriminators: dict[str, nn.Module], loss: CycleGANLoss,
        preview_pairs: Batch, seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(generators, discriminators)
        self.config = loss
        self.gan = GANLoss(GAN_MODES[loss.gan_mode])
        self.pools = {"A": ImagePool(loss.pool_size, 2 * seed), "B": ImagePool(loss.pool_size, 2 * seed + 1)}
        self.preview_pairs = preview_pairs
        self.fakes = FakeCache()
        self.batch_cycle_and_identity = acts_per_image(self.generators)

    def d_loss(self, batch: Batch) -> Losses:
        """Each D on real images vs a pool of past fakes, halved as in the reference code.

        G(a) and F(b) are computed once per step, with their graphs kept for the generators' update.
        """
        a, b = batch
        g, f = self.generators["G_AB"], self.generators["G_BA"]
        fake_b, fake_a = self.fakes.put(batch, (g(a), f(b)))
        losses = {}
        for side, real, fake in (("B", b, fake_b), ("A", a, fake_a)):
            critic = partial(self.judge, f"D_{side}")
            pooled, gp = self.pools[side].query(fake), self.config.gp_weight
            terms = self.gan.critic_losses(critic, real, pooled, gp, 0.5, self.diagnostics, f"_{side}")
            losses |= {f"D_{side}" if k == "adv" else f"{k}_{side}": v for k, v in terms.items()}
        losses["total"] = sum(losses.values())
        return losses

    def judge(self, name: str, images: torch.Tensor) -> torch.Tensor:
        """Discriminator ``name`` on ``images``, through DiffAugment when the loss asks for it."""
        return self.discriminators[name](diff_augment(images, self.config.diffaugment))

    def g_loss(self, batch: Batch) -> Losses:
        """L_GAN(G, D_B) + L_GAN(F, D_A) + lambda_A ||F(G(a)) - a||_1 + lambda_B ||G(F(b)) - b||_1
        (Eq. 3) + identity: lambda_id (lambda_B ||G(b) - b||_1 + lambda_A ||F(a) - a||_1)."""
        a, b = batch
        c = self.config
        g, f = self.generators["G_AB"], self.generators["G_BA"]
        fake_b, fake_a = self.fakes.take(batch, lambda: (g(a), f(b)))
        self.note_change(a, fake_b, b, "_AB")
        self.note_change(b, fake_a, a, "_BA")
        identity = c.lambda_identity > 0
        rec_a, idt_a = self.cycle_and_identity(f, fake_b, a if identity else None)  # F(G(a)), F(a)
        rec_b, idt_b = self.cycle_and_identity(g, fake_a, b if identity else None)  # G(F(b)), G(b)
        losses = {
            "adv_AB": self.gan.g_loss(self.judge("D_B", fake_b)),
            "adv_BA": self.gan.g_loss(self.judge("D_A", fake_a)),
            "cycle_A": c.lambda_a * F.l1_loss(rec_a.float(), a.float()),
            "cycle_B": c.lambda_b * F.l1_loss(rec_b.float(), b.float()),
        }
        if identity:
            losses["idt_B"] = c.lambda_identity * c.lambda_b * F.l1_loss(idt_b.float(), b.float())
            losses["idt_A"] = c.lambda_identity * c.lambda_a * F.l1_loss(idt_a.float(), a.float())
        losses["total"] = sum(losses.values())
        return losses

    def cycle_and_identity(
        self, generator: nn.Module, cycled: torch.Tensor, same_domain: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """generator(cycled) and generator(same_domain) (None: identity loss off). When the generator acts
        on each image alone (no batch norm), both go through it as one batch: the same values, one pass
        of twice the batch instead of two (faster at the small batches CycleGAN trains with)."""
        if same_domain is None:
            return generator(cycled), None
        if not self.batch_cycle_and_identity:
            return generator(cycled), generator(same_domain)
        rec, idt = generator(torch.cat([cycled, same_domain])).split(len(cycled))
        return rec, idt

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """The image pools, so that a resumed run continues with the same history."""
        return {name: pool.state_dict() for name, pool in self.pools.items()}

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, pool in self.pools.items():
            pool.load_state_dict(state.get(name, {}))

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """Rows real A | G(A) | F(G(A)) and real B | F(B) | G(F(B)) on fixed images."""
        g, f = generators["G_AB"], generators["G_BA"]
        device = next(generators.parameters()).device
        a, b = (t[:n].to(device) for t in self.preview_pairs)
        ga, fb = g(a), f(b)
        rows = [torch.stack([a, ga, f(ga)], 1), torch.stack([b, fb, g(fb)], 1)]
        return torch.cat([r.flatten(0, 1) for r in rows]).float().cpu()


RECIPE = Recipe(
    citation="Zhu et al. 2017, section 4 and appendix 7.1: LSGAN, lambda = 10, identity 0.5 lambda, a pool of "
    "50, and pix2pix's schedule (the same reference code): batch 1, Adam 2e-4 (0.5, 0.999), 100 epochs then 100 "
    "decaying linearly to 0",
    schedule=PIX2PIX_RECIPE.schedule,
    loss=CycleGANLoss(),
    network=CycleGANConfig(),
    crop_size=256,
)


def objective(parts: Parts) -> CycleGANObjective:
    return CycleGANObjective(parts.generators, parts.discriminators, parts.loss, parts.preview, parts.seed)


SPEC = ModelSpec(
    "cyclegan", "CycleGAN (Zhu et al. 2017): two ResNet G, two PatchGANs, cycle + identity", "unpaired",
    CycleGANConfig, build_generators, build_discriminators, objective, RECIPE,
    exports={"AtoB": "G_AB", "BtoA": "G_BA"}, evaluation="cycle",
)  # fmt: skip
