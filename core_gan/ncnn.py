"""Read the convolution weights of an ncnn model (``.param`` graph + ``.bin`` blobs).

``.param`` is text: the magic 7767517, the layer and blob counts, then one line per layer:
``Type name n_inputs n_outputs inputs... outputs... key=value...``. A Convolution's keys: 0 =
num_output, 1 = kernel_w, 11 = kernel_h (default kernel_w), 5 = bias_term, 6 = weight_data_size.
``.bin`` holds, for each layer with weights in graph order, the weights behind a 4-byte type tag
(fp16 0x01306B47 or raw fp32 0), padded to 4 bytes, then the bias as raw fp32 (no tag).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core_gan.errors import UserError

MAGIC = "7767517"
FP16_TAG = 0x01306B47
FP32_TAG = 0
# Layer types that carry weights in the .bin; a graph with any other weighted layer is refused.
WEIGHTED = {"Convolution"}
UNWEIGHTED = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "ReLU", "PixelShuffle", "Crop", "Padding"}


@dataclass(frozen=True)
class Conv:
    """One Convolution layer: its name and weight (out, in, kh, kw) and bias (out,) tensors."""

    name: str
    weight: torch.Tensor
    bias: torch.Tensor | None


def _layers(param: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(type, name, params) per layer line, checked against the header's layer count."""
    try:
        lines = [line.split() for line in param.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError:
        lines = []
    except OSError as e:
        raise UserError(f"{param}: cannot read ({e.strerror})") from e
    if not lines or lines[0] != [MAGIC]:
        raise UserError(f"{param}: not an ncnn .param file (first line is not {MAGIC})")
    try:
        layer_count = int(lines[1][0])
        layers = []
        for fields in lines[2:]:
            kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
            params = dict(f.split("=", 1) for f in fields[4 + n_in + n_out :])
            layers.append((kind, name, params))
    except (IndexError, ValueError) as e:
        raise UserError(f"{param}: malformed layer line ({e})") from e
    if len(layers) != layer_count:
        raise UserError(f"{param}: the header announces {layer_count} layers, the file has {len(layers)}")
    unknown = {kind for kind, _, _ in layers} - WEIGHTED - UNWEIGHTED
    if unknown:
        raise UserError(f"{param}: unsupported layer types {sorted(unknown)}")
    return layers


class _Reader:
    def __init__(self, path: Path) -> None:
        try:
            self.path, self.data, self.offset = path, path.read_bytes(), 0
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from e

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise UserError(f"{self.path}: truncated: {what} needs {size} bytes at offset {self.offset}, "
                            f"the file has {len(self.data)}")  # fmt: skip
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def read_convolutions(param: str | Path, bin_path: str | Path) -> list[Conv]:
    """Every Convolution's weights, in graph order; the .bin must be consumed exactly."""
    param, bin_path = Path(param), Path(bin_path)
    reader = _Reader(bin_path)
    convs = []
    for kind, name, p in _layers(param):
        if kind != "Convolution":
            continue
        try:
            out, kw = int(p["0"]), int(p.get("1", "1"))
            kh, size, has_bias = int(p.get("11", kw)), int(p["6"]), p.get("5", "0") == "1"
        except (KeyError, ValueError) as e:
            raise UserError(f"{param}: layer {name}: missing or bad convolution parameter ({e})") from e
        if size % (out * kh * kw):
            raise UserError(f"{param}: layer {name}: weight_data_size {size} is not a multiple of {out}x{kh}x{kw}")
        (tag,) = struct.unpack("<I", reader.take(4, f"{name}'s type tag"))
        if tag == FP16_TAG:
            raw = reader.take(2 * size + (-2 * size) % 4, f"{name}'s fp16 weights")
            weight = np.frombuffer(raw, np.float16, count=size).astype(np.float32)
        elif tag == FP32_TAG:
            weight = np.frombuffer(reader.take(4 * size, f"{name}'s fp32 weights"), np.float32)
        else:
            raise UserError(f"{bin_path}: layer {name}: unsupported weight type tag 0x{tag:08X}")
        bias = np.frombuffer(reader.take(4 * out, f"{name}'s bias"), np.float32) if has_bias else None
        shape = (out, size // (out * kh * kw), kh, kw)
        convs.append(Conv(name, torch.from_numpy(weight.copy()).view(shape),
                          torch.from_numpy(bias.copy()) if bias is not None else None))  # fmt: skip
    if reader.offset != len(reader.data):
        raise UserError(f"{bin_path}: {len(reader.data) - reader.offset} bytes left over after the "
                        f"{len(convs)} convolutions of {param.name}: the files do not belong together")  # fmt: skip
    return convs


def load_into(module: torch.nn.Module, convs: list[Conv], source: str) -> None:
    """Copy ``convs`` into ``module``'s Conv2d layers in order, checking that they map one to one."""
    targets = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(targets) != len(convs):
        raise UserError(f"{source}: {len(convs)} convolutions, the network has {len(targets)}")
    for target, conv in zip(targets, convs, strict=True):
        if target.weight.shape != conv.weight.shape or (target.bias is None) != (conv.bias is None):
            raise UserError(f"{source}: layer {conv.name} is {tuple(conv.weight.shape)}, "
                            f"the network expects {tuple(target.weight.shape)}")  # fmt: skip
    with torch.no_grad():
        for target, conv in zip(targets, convs, strict=True):
            target.weight.copy_(conv.weight)
            if conv.bias is not None:
                target.bias.copy_(conv.bias)
