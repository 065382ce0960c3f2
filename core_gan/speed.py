"""CPU speed-ups as layer swaps (as nn.SyncBatchNorm.convert_sync_batchnorm swaps batch norms): the
networks are written with the papers' plain layers; :func:`swap_cpu_layers` changes, in place, the
class of layers for which this CPU has a faster way to compute the same function with the same
parameters. The trainer and inference apply it on the CPU; export and other devices never see it.

Measured on the project's 2-core CPU (benchmarks/RESULTS.md): the small-map matrix product made a
pix2pix 256 px step 2.1-2.2x faster than the reference configuration with bf16; the dtype-keeping
reflection pad saved about 8 % of a bf16 CycleGAN step; keeping freed memory, about 5 %. At
inference each convolution may also take the CPU kernel measured fastest for it (KernelChoiceConv2d),
and a pixel shuffle may move after the large convolution it feeds (shuffle_after_convolutions: a
traced copy of the network, the original untouched), and a single-parameter PReLU is computed as
the leaky ReLU of its slope (SlopePReLU).
"""

from __future__ import annotations

import ctypes
import functools
import sys

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.models.translators import UNetGenerator

SMALL_MAP = 256
"""Maps of at most this many pixels are convolved as a matrix product on the CPU (MatmulOnSmallMaps)."""


LIBRARY, CHANNELS_LAST, NNPACK = "library", "channels-last", "nnpack"
"""The CPU kernels a KernelChoiceConv2d can take."""


@functools.cache
def nnpack_available() -> bool:
    """Whether this torch has NNPACK and this CPU runs it (the call also initialises it)."""
    return torch._nnpack_available()


def nnpack_computes(layer: nn.Conv2d, x: torch.Tensor) -> bool:
    """NNPACK's inference convolution computes ``layer(x)``: fp32 on the CPU, stride 1, zero padding given
    as numbers, no groups or dilation, and not while exporting or tracing."""
    return (
        x.device.type == "cpu"
        and x.dtype == layer.weight.dtype == torch.float32
        and x.dim() == 4
        and layer.stride == (1, 1)
        and layer.dilation == (1, 1)
        and layer.groups == 1
        and layer.padding_mode == "zeros"
        and not isinstance(layer.padding, str)
        and not torch.compiler.is_exporting()
        and not torch.jit.is_tracing()
        and nnpack_available()
    )


class KernelChoiceConv2d(nn.Conv2d):
    """nn.Conv2d computed by the CPU kernel chosen for it, ``cpu_kernel``: the library's (oneDNN),
    the library's on channels-last maps, or NNPACK's (Winograd and FFT convolutions): the same
    function and parameters, within float rounding. core_gan.cpu_plan chooses per layer by timing
    each on the layer's own input. Why: no kernel is fastest everywhere. On this project's AVX2 CPU,
    SRResNet's 9x9 output layer (64 -> 3 channels at 1024 px) took 5.7 s with the library's kernel,
    0.9 s on channels-last maps and 0.4 s with NNPACK's FFT; its 3x3 layers were 2x faster in NNPACK;
    1x1 layers and the U-Net's 16 px maps were fastest in the library's."""

    cpu_kernel = LIBRARY

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.cpu_kernel == NNPACK and nnpack_computes(self, x):
            return torch._nnpack_spatial_convolution(x, weight, bias, self.padding)
        if self.cpu_kernel == CHANNELS_LAST and x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
            return super()._conv_forward(x, weight, bias).contiguous()
        return super()._conv_forward(x, weight, bias)


def choose_conv_kernels(module: nn.Module, kernels: dict[str, str]) -> nn.Module:
    """In place: every nn.Conv2d inside ``module`` becomes a KernelChoiceConv2d taking the kernel
    ``kernels`` names for it (by its name in ``module``), else the library's."""
    for name, layer in module.named_modules():
        if type(layer) is nn.Conv2d:
            layer.__class__ = KernelChoiceConv2d
        if isinstance(layer, KernelChoiceConv2d):
            layer.cpu_kernel = kernels.get(name, LIBRARY)
    return module


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


class MatmulConv2d(MatmulOnSmallMaps, KernelChoiceConv2d):
    """nn.Conv2d; small CPU maps by im2col and a matrix product (see MatmulOnSmallMaps), larger ones
    by the chosen kernel (see KernelChoiceConv2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.small_cpu_map(x):
            return super().forward(x)
        batch, _, height, width = x.shape
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        columns = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)  # (B, in_ch k k, L)
        out = self.weight.reshape(self.out_channels, -1) @ columns  # (B, out_ch, L)
        size = ((height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1)
        return self.add_bias(out.reshape(batch, self.out_channels, *size))


class MatmulConvTranspose2d(MatmulOnSmallMaps, nn.ConvTranspose2d):
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


class SlopePReLU(nn.PReLU):
    """nn.PReLU with one parameter, computed at inference as the leaky ReLU of its slope: the same
    function. Why: torch's CPU PReLU broadcasts its weight slowly over large maps: on a bf16
    (1, 256, 512, 512) map, as in SRResNet's sub-pixel form, 140 ms contiguous and 11 ms channels-last,
    against 6-9 ms for the leaky ReLU; SRResNet x4 at 256 px, bf16 plan, 0.786 -> 0.758 s (median of 6
    interleaved calls). Where the weight needs a gradient it is torch's PReLU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return super().forward(x)
        return F.leaky_relu(x, self.weight.item())


def slope_prelus(module: nn.Module) -> nn.Module:
    """In place: every single-parameter nn.PReLU inside ``module`` becomes a SlopePReLU."""
    for layer in module.modules():
        if type(layer) is nn.PReLU and layer.num_parameters == 1:
            layer.__class__ = SlopePReLU
    return module


class DtypeReflectionPad2d(nn.ReflectionPad2d):
    """nn.ReflectionPad2d that pads in the incoming dtype. Autocast runs reflection padding in fp32, so
    under bf16 each padded map would be copied up to fp32 and, by the convolution after it, back down:
    two copies of the whole map per pad that gain no precision (padding only moves values)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


def commutes_with_shuffle(module: nn.Module) -> bool:
    """A per-element layer, which gives the same values before or after a PixelShuffle."""
    single_prelu = isinstance(module, nn.PReLU) and module.num_parameters == 1
    return single_prelu or isinstance(module, (nn.Identity, nn.ReLU, nn.LeakyReLU))


def phase_reach(conv: nn.Conv2d, upscale: int) -> int:
    """ceil(p / r): how far, in pre-shuffle pixels, a tap of a "same" convolution with padding p
    reaches after a PixelShuffle(r); the phase convolution's kernel is 2 reach + 1."""
    return -(-conv.padding[0] // upscale)


def subpixel_convolution(conv: nn.Conv2d, upscale: int) -> nn.Conv2d:
    """The convolution C' with conv(PixelShuffle(r)(x)) = PixelShuffle(r)(C'(x)), for a "same"
    convolution (kernel 2p + 1, padding p, stride 1, zero padding): C' reads the r^2 phases of x and
    writes the r^2 phases of the output, out phase (A, B) from in phase (a, b) at offset (dy, dx) by
    the tap (r dy + a - A + p, r dx + b - B + p) of ``conv``'s kernel (0 where off it)."""
    r, (k, p), reach = upscale, (conv.kernel_size[0], conv.padding[0]), phase_reach(conv, upscale)
    offset, phase = torch.arange(-reach, reach + 1), torch.arange(r)
    tap = r * offset + phase[None, :, None] - phase[:, None, None] + p  # (A, a, dy)
    on_kernel = ((tap >= 0) & (tap < k)).to(conv.weight.dtype)
    tap = tap.clamp(0, k - 1)
    rows, columns = tap[:, :, :, None, None, None], tap[None, None, None]
    weight = conv.weight[:, :, rows, columns] * on_kernel[:, :, :, None, None, None] * on_kernel[None, None, None]
    out_ch, in_ch, size = conv.out_channels, conv.in_channels, 2 * reach + 1
    weight = weight.permute(0, 2, 5, 1, 3, 6, 4, 7).reshape(out_ch * r * r, in_ch * r * r, size, size)
    phases = nn.Conv2d(in_ch * r * r, out_ch * r * r, size, padding=reach, bias=conv.bias is not None)
    with torch.no_grad():
        phases.weight.copy_(weight)
        if conv.bias is not None:
            phases.bias.copy_(conv.bias.repeat_interleave(r * r))
    return phases.to(conv.weight.device, conv.weight.dtype)


MAX_SUBPIXEL_COST = 1.5
"""A shuffle is moved only where the phase convolution costs at most 50 % more multiply-adds: 23 %
more for a 9x9 kernel after a x2 shuffle (5x5 taps on 4 phases against 81), but 4x for a 3x3."""


def subpixel_cost(conv: nn.Conv2d, upscale: int) -> float:
    """Multiply-adds of :func:`subpixel_convolution` over the original's."""
    return (upscale * (2 * phase_reach(conv, upscale) + 1) / conv.kernel_size[0]) ** 2


def same_convolution(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.Conv2d)
        and module.stride == (1, 1)
        and module.dilation == (1, 1)
        and module.groups == 1
        and module.padding_mode == "zeros"
        and module.kernel_size[0] == module.kernel_size[1] == 2 * module.padding[0] + 1
        and module.padding[0] == module.padding[1]
    )


class LayerTracer(torch.fx.Tracer):
    """torch.fx's tracer, keeping this module's convolution swaps whole, as it keeps torch's layers."""

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        keep = nn.Conv2d | nn.ConvTranspose2d | nn.PReLU
        return isinstance(module, keep) or super().is_leaf_module(module, qualified_name)


def shuffle_after_convolutions(network: nn.Module) -> nn.Module | None:
    """``network`` (traced by torch.fx; the original is untouched and shares its layers) with each
    PixelShuffle(r) that feeds a "same" convolution, through per-element layers only, moved after it
    (:func:`subpixel_convolution`) where that costs at most ``MAX_SUBPIXEL_COST`` times its
    multiply-adds: the same function within float rounding. None where there is no such shuffle or
    fx cannot trace the network.

    Why: SRResNet's 9x9 output convolution has 3 output channels on the 4x map; the library's
    kernels run it at a fifth of their speed on its 64 -> 64 layers (0.44 s of a 1.2 s bf16 call at
    256 px on this project's AVX-512 CPU); on the phases (256 -> 12 channels, 5x5, at half the size,
    23 % more multiply-adds) it took 0.15-0.17 s."""
    if not any(isinstance(m, nn.PixelShuffle) for m in network.modules()):
        return None
    try:
        traced = torch.fx.GraphModule(network, LayerTracer().trace(network))
    except Exception:  # any network fx cannot trace keeps its own forward
        return None
    layers = dict(traced.named_modules())
    moved = False
    for node in list(traced.graph.nodes):
        if node.op != "call_module" or not same_convolution(layers[node.target]):
            continue
        source = node.args[0]
        while source.op == "call_module" and commutes_with_shuffle(layers[source.target]) and len(source.users) == 1:
            source = source.args[0]
        shuffle = layers.get(source.target) if source.op == "call_module" else None
        if not isinstance(shuffle, nn.PixelShuffle) or len(source.users) != 1:
            continue
        if subpixel_cost(layers[node.target], shuffle.upscale_factor) > MAX_SUBPIXEL_COST:
            continue
        source.replace_all_uses_with(source.args[0])
        traced.graph.erase_node(source)
        conv = subpixel_convolution(layers[node.target], shuffle.upscale_factor)
        traced.add_submodule(node.target, nn.Sequential(conv, nn.PixelShuffle(shuffle.upscale_factor)))
        moved = True
    if not moved:
        return None
    traced.graph.lint()
    traced.recompile()
    return traced


SWAPS: dict[type, type] = {
    nn.Conv2d: MatmulConv2d,
    nn.ConvTranspose2d: MatmulConvTranspose2d,
    nn.ReflectionPad2d: DtypeReflectionPad2d,
}
MATMUL_OWNERS = (UNetGenerator,)
"""Networks whose convolutions take the small-map path: the U-Net, whose innermost layers have 512
channels on 1x1 to 16x16 maps (measured); elsewhere the library's kernels are kept."""


def swap_cpu_layers(module: nn.Module) -> nn.Module:
    """In place: the convolutions inside a U-Net become their small-map forms, and every reflection
    pad the dtype-keeping one. Parameters, buffers and state-dict keys are untouched."""
    for owner in module.modules():
        if isinstance(owner, MATMUL_OWNERS):
            for layer in owner.modules():
                if type(layer) in (nn.Conv2d, nn.ConvTranspose2d):
                    layer.__class__ = SWAPS[type(layer)]
        elif type(owner) is nn.ReflectionPad2d:
            owner.__class__ = DtypeReflectionPad2d
    return module


M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8  # glibc's mallopt parameters (malloc.h)


@functools.cache
def retain_freed_memory() -> bool:
    """Keep memory the CPU allocator frees for reuse, instead of handing it back to the OS (glibc).

    By default glibc unmaps freed blocks above its mmap threshold and trims the top of its heap, so
    every training step page-faults its activation maps in again: 61,000 faults per CycleGAN step at
    256 px, about 5 % of its time on this project's CPU; a x4 upscale to 1024 px faults in its 268 MB
    maps on every call (about a fifth of it). Blocks of any size now come from one heap that is no
    longer trimmed, shared by all threads (an app's handlers run in worker threads, whose own arenas
    would still map large blocks). The cost: the process keeps its peak memory. Returns whether it
    applied (not on other C libraries); process-wide, once, best before other threads start.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_ARENA_MAX, 1))
    return all([bool(mallopt(parameter, value)) for parameter, value in settings])
