"""Image-to-image networks shared by pix2pix and CycleGAN (Isola et al. 2017; Zhu et al. 2017):
the U-Net and ResNet generators and the PatchGAN / PixelGAN discriminators.

Layer for layer as in the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix), so that
parameter counts and behaviour match: convolutions before batch norm carry no bias, instance norm
has no affine parameters, the U-Net's outermost layers have no norm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.nn import Norm, conv_block, norm_layer, spectral, uses_bias

Upsampling = Literal["transpose", "resize", "blur"]


def binomial_filter(taps: int, channels: int) -> torch.Tensor:
    """The separable binomial filter ([1, 2, 1] for 3 taps, [1, 3, 3, 1] for 4) normalised to sum 1, one
    copy per channel for a grouped convolution: (channels, 1, taps, taps)."""
    row = torch.tensor([math.comb(taps - 1, k) for k in range(taps)], dtype=torch.float32)
    kernel = row[:, None] * row[None, :]
    return (kernel / kernel.sum()).expand(channels, 1, taps, taps).clone()


class BlurDownsample(nn.Module):
    """Anti-aliased x2 downsampling (Zhang, "Making convolutional networks shift-invariant again", ICML
    2019): a 3x3 [1, 2, 1] blur, reflect-padded, taken at stride 2. CUT puts one after a stride-1
    convolution where CycleGAN has a stride-2 one."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("kernel", binomial_filter(3, channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel.to(x.dtype), stride=2, groups=x.shape[1])


class BlurUpsample(nn.Module):
    """Anti-aliased x2 upsampling (Zhang 2019, as CUT's code does it): zeros between the pixels, then a
    4x4 [1, 3, 3, 1] blur (x4, so flat areas keep their level), borders replicated."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("kernel", 4 * binomial_filter(4, channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        out = F.conv_transpose2d(padded, self.kernel.to(x.dtype), stride=2, padding=2, groups=x.shape[1])
        return out[:, :, 1:-1, 1:-1]


def upsampling(
    in_ch: int, out_ch: int, kind: Upsampling, bias: bool, kernel: int, output_padding: int = 0
) -> nn.Module:
    """A x2 upsampling convolution. ``transpose``: the papers' transposed convolution; ``resize``: a
    bilinear resize then a 3x3 convolution, which cannot draw the checkerboard pattern that the uneven
    overlap of strided transposed kernels does (Odena et al., "Deconvolution and checkerboard
    artifacts", Distill 2016); ``blur``: :class:`BlurUpsample` then a 3x3 convolution (CUT)."""
    if kind == "blur":
        return nn.Sequential(BlurUpsample(in_ch), nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=bias))
    if kind == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=bias))
    return nn.ConvTranspose2d(in_ch, out_ch, kernel, 2, 1, output_padding, bias=bias)


class UNetGenerator(nn.Module):
    """U-Net with skip connections: images (B, in_ch, H, W) in [-1, 1] -> (B, out_ch, H, W) in [-1, 1].

    ``depth`` 4x4 stride-2 convolutions (LeakyReLU 0.2) down to 1x1 at H = 2^depth, then transposed
    convolutions (ReLU) up, each concatenated with the mirrored encoder features; dropout 0.5 in the
    ``depth - 5`` decoder blocks next to the innermost (three for ``unet_256``); tanh output.
    H and W must be multiples of 2^depth. ``upsample = "resize"`` swaps the transposed convolutions
    for resize-convolutions (see :func:`upsampling`).
    """

    def __init__(
        self, in_ch: int = 3, out_ch: int = 3, depth: int = 8, ngf: int = 64, norm: Norm = "batch",
        dropout: bool = True, upsample: Upsampling = "transpose",
    ) -> None:  # fmt: skip
        super().__init__()
        if depth < 5:
            raise ValueError(f"U-Net depth must be at least 5, got {depth}")
        self.depth = depth
        bias = uses_bias(norm)
        widths = [ngf * min(2**i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(in_ch if i == 0 else widths[i - 1], width, 4, 2, 1, bias=bias))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, width))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in range(depth):
            up_in = widths[i] if i == depth - 1 else 2 * widths[i]
            up_out = out_ch if i == 0 else widths[i - 1]
            layers = [nn.ReLU(True), upsampling(up_in, up_out, upsample, bias or i == 0, kernel=4)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(norm_layer(norm, up_out))
                if dropout and 4 <= i <= depth - 2:
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    @property
    def multiple(self) -> int:
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        h = self.up[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            h = self.up[i](torch.cat([skips[i], h], dim=1))
        return h


class ResidualBlock(nn.Module):
    """x + [reflect-pad, conv3x3, norm, ReLU, (dropout), reflect-pad, conv3x3, norm](x) (He et al.)."""

    def __init__(self, channels: int, norm: Norm, dropout: bool = False) -> None:
        super().__init__()
        bias = uses_bias(norm)
        conv = nn.Conv2d(channels, channels, 3, bias=bias)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), conv, norm_layer(norm, channels), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """Johnson et al.'s transformer network as used by CycleGAN: images (B, in_ch, H, W) in [-1, 1] ->
    (B, out_ch, H, W) in [-1, 1]. 7x7 conv, two stride-2 downsamplings, ``blocks`` residual blocks,
    two transposed-conv (or resize-conv) upsamplings, 7x7 conv and tanh; reflection padding. H, W
    multiples of 4. ``antialias``: CUT's downsamplings, a stride-1 convolution then :class:`BlurDownsample`.

    ``G(x, layers)`` returns the features after those layers of ``net`` instead of the image (CUT's
    encoder features, through ``forward`` so that DistributedDataParallel and compiled modules see it)."""

    multiple = 4

    def __init__(
        self, in_ch: int = 3, out_ch: int = 3, blocks: int = 9, ngf: int = 64, norm: Norm = "instance",
        dropout: bool = False, upsample: Upsampling = "transpose", antialias: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        bias = uses_bias(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True)
        ]  # fmt: skip
        for m in (1, 2):
            layers += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, 1 if antialias else 2, 1, bias=bias),
                norm_layer(norm, ngf * m * 2),
                nn.ReLU(True),
            ]
            if antialias:
                layers.append(BlurDownsample(ngf * m * 2))
        layers += [ResidualBlock(ngf * 4, norm, dropout) for _ in range(blocks)]
        for m in (4, 2):
            layers += [
                upsampling(ngf * m, ngf * m // 2, upsample, bias, kernel=3, output_padding=1),
                norm_layer(norm, ngf * m // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, layers: Sequence[int] = ()) -> torch.Tensor | list[torch.Tensor]:
        return sequential_features(self.net, x, layers) if layers else self.net(x)


def sequential_features(net: nn.Sequential, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of ``net``'s layers numbered ``layers`` for input ``x`` (the layers after the last
    of them are not run): what CUT's PatchNCE reads of an encoder."""
    features = []
    for i, layer in enumerate(net[: max(layers) + 1]):
        x = layer(x)
        if i in layers:
            features.append(x)
    return features


class PatchDiscriminator(nn.Module):
    """PatchGAN: images (B, in_ch, H, W) -> a map of logits (B, 1, H', W'), one per overlapping patch.

    ``n_layers = 3`` is the 70x70 PatchGAN of pix2pix/CycleGAN; ``n_layers = 0`` is the 1x1 PixelGAN.
    ``antialias``: CUT's, each stride-2 convolution at stride 1 followed by :class:`BlurDownsample`.
    """

    def __init__(
        self, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: Norm = "batch", spectral_norm: bool = False,
        antialias: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()

        def block(i: int, o: int, k: int, stride: int, pad: int, n: Norm = "none") -> nn.Module:
            blur = antialias and stride == 2
            conv = conv_block(i, o, kernel=k, stride=1 if blur else stride, padding=pad, norm=n,
                              activation=nn.LeakyReLU(0.2, True), spectral_norm=spectral_norm)  # fmt: skip
            return nn.Sequential(conv, BlurDownsample(o)) if blur else conv

        if n_layers == 0:
            layers = [block(in_ch, ndf, 1, 1, 0), block(ndf, ndf * 2, 1, 1, 0, norm)]
            width = ndf * 2
            # The reference PixelGAN's last 1x1 conv has no bias when batch norm is used.
            last = spectral(nn.Conv2d(width, 1, 1, bias=uses_bias(norm)), spectral_norm)
        else:
            layers, width = [block(in_ch, ndf, 4, 2, 1)], ndf
            for n in range(1, n_layers + 1):
                out = ndf * min(2**n, 8)
                layers.append(block(width, out, 4, 2 if n < n_layers else 1, 1, norm))
                width = out
            last = spectral(nn.Conv2d(width, 1, 4, 1, 1), spectral_norm)
        layers.append(last)
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_generator(
    name: str,
    in_ch: int,
    out_ch: int,
    ngf: int,
    norm: Norm,
    dropout: bool,
    upsample: Upsampling = "transpose",
    antialias: bool = False,
) -> nn.Module:
    """``unet_256``, ``unet_128``, ``resnet_9blocks`` or ``resnet_6blocks``, as the reference code names them
    (``antialias``: ResNets only)."""
    size_text = name.removeprefix("unet_")
    if name.startswith("unet_") and size_text.isdigit() and int(size_text) >= 32 and int(size_text).bit_count() == 1:
        size = int(size_text)
        return UNetGenerator(in_ch, out_ch, size.bit_length() - 1, ngf, norm, dropout, upsample)
    blocks_text = name.removeprefix("resnet_").removesuffix("blocks")
    if name.startswith("resnet_") and name.endswith("blocks") and blocks_text.isdigit():
        blocks = int(blocks_text)
        return ResNetGenerator(in_ch, out_ch, blocks, ngf, norm, dropout, upsample, antialias)
    raise ValueError(
        f"unknown generator {name!r}; expected unet_N with N a power of 2 >= 32 (unet_32, unet_64, "
        "unet_128, unet_256, ...: the crop it fits) or resnet_Nblocks (resnet_6blocks, resnet_9blocks)"
    )


def unets_for(crop: int) -> list[str]:
    """The U-Nets that take ``crop`` px crops: unet_N for N a power of 2, 32 <= N <= crop, dividing crop."""
    return [f"unet_{n}" for n in (2**k for k in range(5, crop.bit_length())) if crop % n == 0]


GENERATORS = ("unet_256", "unet_128", "resnet_9blocks", "resnet_6blocks")
