"""CUT and FastCUT: contrastive learning for unpaired image-to-image translation (Park, Efros, Zhang and
Zhu, ECCV 2020).

One generator G: X -> Y and one PatchGAN D; no inverse mapping and no cycle. Instead, PatchNCE (Eq. 5)
makes each patch of the output correspond to the patch of the input at the same place: features of
G's own encoder at several layers l (Fig. 2), each through a small MLP H_l, are matched by an InfoNCE
loss (Eq. 2, temperature 0.07) whose negatives are the other patches of the same image (section 3.2).
CUT adds PatchNCE on (y, G(y)) as an identity term (Eq. 6, lambda_X = lambda_Y = 1); FastCUT drops it
for lambda_X = 10 and flip-equivariance augmentation. G and D down- and upsample anti-aliased (Zhang,
ICML 2019), as the paper's code does by default. Parameter counts at 256 px: G 11,378,179, D 2,764,737
and the PatchNCE head F 560,384.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.config import option
from core_gan.diffaugment import POLICY_HELP, Policy, diff_augment
from core_gan.errors import UserError
from core_gan.losses import GANLoss
from core_gan.method import ModelSpec, Parts
from core_gan.models.translators import PatchDiscriminator, make_generator
from core_gan.nn import Norm, xavier_init
from core_gan.objective import Batch, FakeCache, Losses, Networks
from core_gan.recipe import Recipe, Schedule
from translation.pix2pix import GAN_MODES


@dataclass(frozen=True)
class CUTConfig:
    """The networks, with the code's defaults: ``resnet_9blocks`` and the 70x70 PatchGAN, instance norm,
    anti-aliased sampling."""

    netG: str = option("resnet_9blocks", "G: resnet_9blocks or resnet_6blocks")
    a_nc: int = 3
    b_nc: int = 3
    ngf: int = option(64, "G's width: filters of its first layer", low=1)
    ndf: int = option(64, "D's width: filters of its first layer", low=1)
    n_layers_d: int = option(3, "stride-2 layers of the PatchGAN (3: 70x70 patches)", low=0)
    norm: Norm = option("instance", "normalisation layers of G and D")
    antialias: bool = option(
        True, "anti-aliased down- and upsampling in G and D (the code's default; off: CycleGAN's strided layers)"
    )


def build_generators(c: CUTConfig) -> dict[str, nn.Module]:
    if not c.netG.startswith("resnet_"):
        raise ValueError(f"CUT's PatchNCE reads a ResNet generator's encoder; {c.netG} is not one")
    upsample = "blur" if c.antialias else "transpose"
    return {"G": make_generator(c.netG, c.a_nc, c.b_nc, c.ngf, c.norm, False, upsample, c.antialias)}


def build_discriminators(c: CUTConfig) -> dict[str, nn.Module]:
    return {"D": PatchDiscriminator(c.b_nc, c.ndf, c.n_layers_d, c.norm, antialias=c.antialias)}


@dataclass(frozen=True)
class CUTLoss:
    """CUT's defaults; FastCUT's recipe sets lambda_nce 10, no identity term and flip equivariance."""

    gan_mode: Literal["vanilla", "lsgan", "wgan-gp", "hinge"] = option("lsgan", "the adversarial loss")
    lambda_gan: float = option(1.0, "weight of the adversarial term", low=0, low_open=True)
    lambda_nce: float = option(1.0, "weight lambda_X of PatchNCE(x, G(x)) (and lambda_Y of the identity term)",
                               low=0, low_open=True)  # fmt: skip
    nce_idt: bool = option(True, "the identity term PatchNCE(y, G(y)) (CUT; FastCUT: off)")
    nce_layers: str = option(
        "0,4,8,12,16",
        "layers of G whose features PatchNCE matches (indices into G's layer "
        "list: the padded input, the two downsampling convolutions, residual blocks 1 and 5)",
    )
    num_patches: int = option(256, "patches sampled per layer and image (the same places in x and G(x))", low=1)
    nce_t: float = option(0.07, "temperature tau of the InfoNCE logits", low=0, low_open=True)
    flip_equivariance: bool = option(False, "FastCUT: with probability 1/2 G translates the batch flipped, and "
                                     "PatchNCE matches its features flipped back")  # fmt: skip
    gp_weight: float = option(
        10.0, "gradient penalty weight with --gan-mode wgan-gp", low=0, needs=("gan_mode", "wgan-gp")
    )
    diffaugment: Policy = option("none", POLICY_HELP)


PATCH_DIM = 256
"""The width of F's MLPs and of the embedded patches (the code's ``netF_nc``)."""


class PatchSampler(nn.Module):
    """F of Fig. 2 (the code's ``mlp_sample``): per layer l, the features at the given places through
    H_l = Linear(C_l, 256), ReLU, Linear(256, 256), then L2-normalised. Its widths come from G's features,
    so the objective creates it from the first batch."""

    def __init__(self, widths: list[int], dim: int = PATCH_DIM) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, dim), nn.ReLU(), nn.Linear(dim, dim)) for c in widths)
        xavier_init(self)

    def forward(self, features: list[torch.Tensor], places: list[torch.Tensor]) -> list[torch.Tensor]:
        """Features (B, C_l, H_l, W_l) and flat places (P_l,) -> embedded patches (B, P_l, 256), unit length."""
        out = []
        for mlp, feature, at in zip(self.mlps, features, places, strict=True):
            patches = mlp(feature.flatten(2).transpose(1, 2)[:, at])
            out.append(patches / (patches.norm(dim=2, keepdim=True) + 1e-7))
        return out


def sample_places(features: list[torch.Tensor], n: int) -> list[torch.Tensor]:
    """Per layer, ``n`` distinct random places (all when the layer has fewer), the same for every image."""
    return [torch.randperm(f.shape[2] * f.shape[3], device=f.device)[:n] for f in features]


def patch_nce_loss(q: torch.Tensor, k: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """PatchNCE of each query patch (B, P), as the code computes it: q (B, P, D) from G(x), k (B, P, D)
    from x, detached (only the query side is trained). The positive of q_i is k_i; its negatives are the
    other patches k_j of the same image; the logits q.k / tau go through a cross-entropy with target 0.
    The diagonal of the negatives (the positive again) is filled with -10 so that it counts for nothing."""
    q, k = q.float(), k.detach().float()
    positive = (q * k).sum(dim=2, keepdim=True)
    negatives = q @ k.transpose(1, 2)
    same = torch.eye(q.shape[1], dtype=torch.bool, device=q.device)
    logits = torch.cat([positive, negatives.masked_fill(same, -10.0)], dim=2) / tau
    target = torch.zeros(logits.shape[0] * logits.shape[1], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits.flatten(0, 1), target, reduction="none").view(q.shape[:2])


def nce_layers(text: str, G: nn.Module) -> list[int]:
    """``--nce-layers`` as indices into G's layer list, each before its first upsampling layer."""
    try:
        layers = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise UserError(f"--nce-layers {text}: expected comma-separated layer indices, e.g. 0,4,8,12,16") from None
    encoder = encoder_length(G)
    if not layers or layers[0] < 0 or layers[-1] >= encoder:
        raise UserError(f"--nce-layers {text}: G's encoder has layers 0 to {encoder - 1}")
    return layers


def encoder_length(G: nn.Module) -> int:
    """How many of G's layers (``G.net``, as in :class:`ResNetGenerator`) come before its first upsampling:
    the layers PatchNCE may read."""
    upsampling = (i for i, layer in enumerate(G.net) if isinstance(layer, nn.ConvTranspose2d | nn.Sequential))
    return next(upsampling, len(G.net))


class CUTObjective(Networks):
    """Batches are (x, y): unpaired images of X and Y (B, C, H, W) in [-1, 1]."""

    preview_columns = 2

    def __init__(
        self, generators: dict[str, nn.Module], discriminators: dict[str, nn.Module], loss: CUTLoss,
        preview_pairs: Batch, seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__(generators, discriminators)
        self.config = loss
        self.layers = nce_layers(loss.nce_layers, generators["G"])
        self.gan = GANLoss(GAN_MODES[loss.gan_mode])
        self.preview_pairs = preview_pairs
        self.fakes = FakeCache()

    def create_auxiliaries(self, batch: Batch) -> bool:
        """F, whose input widths are those of G's features at the NCE layers (read on the first batch)."""
        if "F" in self.auxiliaries:
            return False
        with torch.no_grad():
            features = self.generators["G"](batch[0][:1], self.layers)
        self.auxiliaries["F"] = PatchSampler([f.shape[1] for f in features]).to(batch[0].device)
        return True

    def translate(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
        """G(x), G(y) when the identity term is on (one pass over both), and whether G saw them flipped."""
        x, y = batch
        flipped = self.config.flip_equivariance and bool(torch.rand(()) < 0.5)
        inputs = torch.cat([x, y]) if self.config.nce_idt else x
        out = self.generators["G"](inputs.flip(3) if flipped else inputs)
        return out[: len(x)], out[len(x) :] if self.config.nce_idt else None, flipped

    def d_loss(self, batch: Batch) -> Losses:
        """D on real y vs G(x) (LSGAN, halved as in the code). G(x) is kept, graph included, for G's update."""
        fake, _, _ = self.fakes.put(batch, self.translate(batch))
        losses = self.gan.critic_losses(self.judge, batch[1], fake, self.config.gp_weight, 0.5, self.diagnostics)
        losses["total"] = sum(losses.values())
        return losses

    def judge(self, images: torch.Tensor) -> torch.Tensor:
        """D on ``images``, through DiffAugment when the loss asks for it (the project's option, as CycleGAN's)."""
        return self.discriminators["D"](diff_augment(images, self.config.diffaugment))

    def g_loss(self, batch: Batch) -> Losses:
        """lambda_GAN L_GAN(G, D) + lambda_X PatchNCE(x, G(x)), with CUT's identity term averaged in:
        (lambda_X PatchNCE(x, G(x)) + lambda_Y PatchNCE(y, G(y))) / 2."""
        x, y = batch
        c = self.config
        fake, idt, flipped = self.fakes.take(batch, lambda: self.translate(batch))
        losses = {"adv": c.lambda_gan * self.gan.g_loss(self.judge(fake))}
        self.note_change(x.flip(3) if flipped else x, fake, y)
        share = 0.5 if idt is not None else 1.0
        losses["nce_X"] = share * self.patch_nce(x, fake, flipped)
        if idt is not None:
            losses["nce_Y"] = share * self.patch_nce(y, idt, flipped)
        losses["total"] = sum(losses.values())
        return losses

    def patch_nce(self, source: torch.Tensor, output: torch.Tensor, flipped: bool) -> torch.Tensor:
        """lambda_NCE times PatchNCE averaged over the layers: queries from G's encoder on the output
        (flipped back when G saw the batch flipped), keys from it on the source, at the same places."""
        G, sampler = self.generators["G"], self.auxiliaries["F"]
        queries = G(output, self.layers)
        if flipped:
            queries = [q.flip(3) for q in queries]
        keys = G(source, self.layers)
        places = sample_places(keys, self.config.num_patches)
        per_layer = [patch_nce_loss(q, k, self.config.nce_t).mean()
                     for q, k in zip(sampler(queries, places), sampler(keys, places), strict=True)]  # fmt: skip
        return self.config.lambda_nce * torch.stack(per_layer).mean()

    @torch.no_grad()
    def preview(self, generators: nn.ModuleDict, n: int, seed: int) -> torch.Tensor:
        """Rows x | G(x) on fixed images of X."""
        device = next(generators.parameters()).device
        x = self.preview_pairs[0][:n].to(device)
        return torch.stack([x, generators["G"](x)], 1).flatten(0, 1).float().cpu()


RECIPE = Recipe(
    citation="Park et al. 2020, section 4 and the code's defaults: LSGAN, lambda_X = lambda_Y = 1, 256 patches "
    "from layers 0,4,8,12,16, tau 0.07, no image pool, batch 1, Adam 2e-4 (0.5, 0.999), 200 epochs then 200 "
    "decaying linearly to 0, 286 px loads cropped to 256",
    schedule=Schedule(epochs=400, batch_size=1, lr=2e-4, betas=(0.5, 0.999), decay_fraction=0.5),
    loss=CUTLoss(),
    network=CUTConfig(),
    crop_size=256,
)
FASTCUT_RECIPE = Recipe(
    citation="Park et al. 2020, FastCUT: lambda_X = 10, no identity term, flip equivariance; 150 epochs then 50 "
    "decaying linearly to 0; otherwise CUT's recipe",
    schedule=Schedule(epochs=200, batch_size=1, lr=2e-4, betas=(0.5, 0.999), decay_fraction=0.25),
    loss=CUTLoss(lambda_nce=10.0, nce_idt=False, flip_equivariance=True),
    network=CUTConfig(),
    crop_size=256,
)


def objective(parts: Parts) -> CUTObjective:
    return CUTObjective(parts.generators, parts.discriminators, parts.loss, parts.preview)


CUT = ModelSpec(
    "cut", "CUT (Park et al. 2020): one ResNet G, a PatchGAN and PatchNCE between input and output patches",
    "unpaired", CUTConfig, build_generators, build_discriminators, objective, RECIPE, evaluation="one-way",
    init=xavier_init,
)  # fmt: skip
FASTCUT = replace(
    CUT, name="fastcut", description="FastCUT (Park et al. 2020): CUT with lambda_NCE 10, no identity term, "
    "flip equivariance", recipe=FASTCUT_RECIPE,
)  # fmt: skip
