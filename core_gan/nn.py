"""Building blocks shared by every network: normalisation choice, DCGAN init, conv blocks."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Norm = Literal["batch", "instance", "none"]
NORMS: tuple[str, ...] = ("batch", "instance", "none")


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    """Batch norm, instance norm (no affine, no running stats, as in pix2pix/CycleGAN) or identity."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def uses_bias(norm: Norm) -> bool:
    """A conv followed by batch norm needs no bias (BN's shift replaces it); instance norm keeps it."""
    return norm != "batch"


def acts_per_image(module: nn.Module) -> bool:
    """No batch norm inside: each image's output depends on that image alone, so batching images
    together gives each the same result (instance norm, layer norm and dropout are per image)."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@torch.no_grad()
def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: conv/linear weights ~ N(0, std), norm scales ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            weight = m.weight_orig if hasattr(m, "weight_orig") else m.weight
            nn.init.normal_(weight, 0.0, std)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def xavier_init(module: nn.Module, gain: float = 0.02) -> None:
    """Xavier-normal conv/linear weights with ``gain``, biases 0, norm scales ~ N(1, gain): the reference
    pix2pix/CycleGAN code's ``--init_type xavier``, which CUT uses for G, D and F."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_normal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) and m.affine:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def spectral(layer: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``layer`` in spectral normalisation (Miyato et al. 2018) when ``enabled``."""
    return nn.utils.parametrizations.spectral_norm(layer) if enabled else layer


def conv_block(
    in_ch: int,
    out_ch: int,
    *,
    kernel: int = 4,
    stride: int = 2,
    padding: int = 1,
    norm: Norm = "batch",
    activation: nn.Module | None = None,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """Conv -> norm -> activation: the unit of DCGAN's D and of the PatchGAN (bias only without batch norm)."""
    conv = spectral(nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=uses_bias(norm)), spectral_norm)
    layers: list[nn.Module] = [conv, norm_layer(norm, out_ch)]
    if activation is not None:
        layers.append(activation)
    return nn.Sequential(*layers)


class MinibatchStdDev(nn.Module):
    """Appends the batch's mean feature std as one extra feature (Karras et al. 2018, section 3).

    A discriminator that sees this statistic can tell a collapsed batch (std near 0) from a real one,
    which pushes G away from mode collapse. Input (B, C) or (B, C, H, W); output has C + 1 channels.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = (x.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        stat = std.expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, stat], dim=1)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose scale and shift are looked up per class (Dumoulin et al. 2017; de Vries et al.).

    Input (B, C, H, W) and integer labels (B,); the scales start at 1 and the shifts at 0.
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma(y)[:, :, None, None]
        beta = self.beta(y)[:, :, None, None]
        return gamma * self.bn(x) + beta


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def input_channels(net: nn.Module) -> int:
    """The channels a network's first convolution (or linear layer) reads."""
    first = next(m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    return first.in_channels if isinstance(first, nn.Conv2d) else first.in_features


def shape_problem(net: nn.Module, batch: int, side: int) -> str | None:
    """Why ``net`` cannot train on a batch of ``batch`` images of ``side`` x ``side`` px (None when it
    can): one forward pass in training mode on the meta device, which computes shapes and nothing else."""
    import copy

    meta = copy.deepcopy(net).to("meta").train()
    try:
        meta(torch.empty(batch, input_channels(net), side, side, device="meta"))
    except (RuntimeError, ValueError) as e:
        return str(e).strip().splitlines()[0]
    return None
