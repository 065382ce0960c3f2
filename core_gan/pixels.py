"""Pixel ranges, converted in one place. Networks and losses work on images in [-1, 1] ("signed");
files, metrics and published SR weights use [0, 1] ("unit") or 8-bit values in [0, 255]."""

from __future__ import annotations

import numpy as np
import torch


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (x + 1) / 2


def from_unit(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def to_255(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> float values in [0, 255] (clamped, not rounded): the 8-bit scale of the metrics."""
    return (x.clamp(-1, 1) + 1) * 127.5


def quantise(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [-1, 1] on the 8-bit grid, as if saved to and read from a PNG."""
    return to_255(x).round() / 127.5 - 1


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """uint8-valued (H, W, C) -> a float tensor (C, H, W) in [-1, 1] (from a copy: decoded images are read-only)."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 127.5 - 1


def signed(image: np.ndarray) -> np.ndarray:
    """uint8-valued (H, W, C) -> float32 (H, W, C) in [-1, 1], as arrays (hint sampling and fills work on these)."""
    return image.astype(np.float32) / 127.5 - 1


def unsigned(image: np.ndarray) -> np.ndarray:
    """float (H, W, C) in [-1, 1] -> uint8, rounded and clipped: the inverse of :func:`signed`."""
    return np.rint((image + 1) * 127.5).clip(0, 255).astype(np.uint8)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C); one channel is repeated to RGB."""
    x = to_255(images.float()).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x.permute(0, 2, 3, 1).cpu().numpy()
