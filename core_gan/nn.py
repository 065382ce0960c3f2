"""Building blocks shared by every network: normalisation choice, DCGAN init, conv blocks."""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F
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


SMALL_MAP = 256
"""Maps of at most this many pixels are convolved as a matrix product on the CPU (see DownConv/UpConv)."""


class MatmulOnSmallMaps:
    """Mixed into nn.Conv2d / nn.ConvTranspose2d: on the CPU, a map of at most ``SMALL_MAP`` pixels is
    convolved as one matrix product with unfold/fold (im2col/col2im): the same function and parameters.

    Why: the U-Net's innermost layers have 512-1024 channels on 1x1 to 16x16 maps; there the library's
    CPU kernels spend most of their time re-laying out the 4-8 M-weight kernels (measured 2-3x slower
    than the matrix product in each direction). Large maps, other devices, export and tracing take the
    library's kernel. ``matmul_small_maps = False`` restores it everywhere (the reference configuration).
    """

    matmul_small_maps = True

    @functools.cached_property
    def plain_geometry(self) -> bool:
        """Square kernel, stride and padding; zero padding; no groups, dilation or output padding
        (what the matrix-product path computes); fixed at construction, so computed once."""
        square = all(len(set(getattr(self, a))) == 1 for a in ("kernel_size", "stride", "padding"))
        return (
            square
            and self.groups == 1
            and self.dilation == (1, 1)
            and getattr(self, "padding_mode", "zeros") == "zeros"
            and getattr(self, "output_padding", (0, 0)) == (0, 0)
        )

    def small_cpu_map(self, x: torch.Tensor) -> bool:
        return (
            self.matmul_small_maps
            and x.device.type == "cpu"
            and x.dim() == 4
            and x.shape[-2] * x.shape[-1] <= SMALL_MAP
            and self.plain_geometry
            and not torch.compiler.is_exporting()
            and not torch.jit.is_tracing()
        )

    def add_bias(self, out: torch.Tensor) -> torch.Tensor:
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1).to(out.dtype)


class DownConv(MatmulOnSmallMaps, nn.Conv2d):
    """nn.Conv2d; small CPU maps by im2col and a matrix product (see MatmulOnSmallMaps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.small_cpu_map(x):
            return super().forward(x)
        batch, _, height, width = x.shape
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        columns = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)  # (B, in_ch k k, L)
        out = self.weight.reshape(self.out_channels, -1) @ columns  # (B, out_ch, L)
        size = ((height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1)
        return self.add_bias(out.reshape(batch, self.out_channels, *size))


class UpConv(MatmulOnSmallMaps, nn.ConvTranspose2d):
    """nn.ConvTranspose2d; small CPU maps by a matrix product and col2im (see MatmulOnSmallMaps)."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if not self.small_cpu_map(x) or output_size is not None:
            return super().forward(x, output_size)
        batch, channels, height, width = x.shape
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        pixels = x.reshape(batch, channels, height * width).transpose(1, 2)  # (B, H * W, in_ch)
        columns = (pixels @ self.weight.reshape(channels, -1)).transpose(1, 2)  # (B, out_ch * k * k, H * W)
        size = ((height - 1) * s - 2 * p + k, (width - 1) * s - 2 * p + k)
        return self.add_bias(F.fold(columns, size, self.kernel_size, padding=self.padding, stride=self.stride))


def acts_per_image(module: nn.Module) -> bool:
    """No batch norm inside: each image's output depends on that image alone, so batching images
    together gives each the same result (instance norm, layer norm and dropout are per image)."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class ReflectionPad2d(nn.ReflectionPad2d):
    """nn.ReflectionPad2d that pads in the incoming dtype. Autocast runs reflection padding in fp32, so
    under bf16 each padded map would be copied up to fp32 and, by the convolution after it, back down:
    two copies of the whole map per pad that gain no precision (padding only moves values)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


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
