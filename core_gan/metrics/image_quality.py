"""PSNR and SSIM with the super-resolution papers' protocol.

The protocol (SRGAN, EDSR, BasicSR): both images rounded to 8 bits, optionally converted to the Y
channel of BT.601 YCbCr (MATLAB's ``rgb2ycbcr``), ``crop_border`` pixels (usually the scale) removed
from each side, then computed in float64. SSIM is Wang et al. 2004: an 11x11 Gaussian window with
sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, over the valid region, averaged over channels.
"""

from __future__ import annotations

import kornia
import numpy as np
import torch
from torch import nn

from core_gan.pixels import to_255

MAX_VALUE = 255.0


def _as_batch(image: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 or [0, 255] arrays (H, W), (H, W, C) or tensors (B, C, H, W) -> float64 (B, C, H, W)."""
    if isinstance(image, np.ndarray):
        t = torch.tensor(image, dtype=torch.float64)  # a copy: read-only arrays (PIL views) are fine
        t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
        return t
    t = image.double()
    return t[None] if t.dim() == 3 else t


def rgb_to_y(rgb: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of RGB values in [0, 255] (B, 3, H, W) -> (B, 1, H, W) in [16, 235] (MATLAB rgb2ycbcr)."""
    if rgb.shape[1] != 3:
        raise ValueError(f"expected RGB (B, 3, H, W), got shape {tuple(rgb.shape)}")
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


SSIM_WINDOW = 11
"""Side of SSIM's Gaussian window (Wang et al. 2004); an image must be at least this large."""


def _protocol(
    sr: torch.Tensor | np.ndarray, hr: torch.Tensor | np.ndarray, crop_border: int, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_batch(sr), _as_batch(hr)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    a, b = a.round().clamp(0, 255), b.round().clamp(0, 255)
    if y_channel:
        a, b = rgb_to_y(a), rgb_to_y(b)
    if crop_border > 0:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    return a, b


def psnr(
    sr: torch.Tensor | np.ndarray, hr: torch.Tensor | np.ndarray, crop_border: int = 0, y_channel: bool = False
) -> torch.Tensor:
    """10 log10(255^2 / MSE) per image (B,), inputs in [0, 255]; inf for identical images."""
    a, b = _protocol(sr, hr, crop_border, y_channel)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(MAX_VALUE**2 / mse)


def ssim(
    sr: torch.Tensor | np.ndarray, hr: torch.Tensor | np.ndarray, crop_border: int = 0, y_channel: bool = False
) -> torch.Tensor:
    """Mean SSIM per image (B,), inputs in [0, 255] (Wang et al. 2004, Eq. 13, Gaussian window)."""
    a, b = _protocol(sr, hr, crop_border, y_channel)
    ssim_map = kornia.metrics.ssim(a / MAX_VALUE, b / MAX_VALUE, window_size=SSIM_WINDOW, max_val=1.0, padding="valid")
    return ssim_map.flatten(1).mean(1)


class PSNR(nn.Module):
    """Module form of :func:`psnr`."""

    def __init__(self, crop_border: int = 0, y_channel: bool = False) -> None:
        super().__init__()
        self.crop_border, self.y_channel = crop_border, y_channel

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return psnr(sr, hr, self.crop_border, self.y_channel)


class SSIM(nn.Module):
    """Module form of :func:`ssim`."""

    def __init__(self, crop_border: int = 0, y_channel: bool = False) -> None:
        super().__init__()
        self.crop_border, self.y_channel = crop_border, y_channel

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return ssim(sr, hr, self.crop_border, self.y_channel)


@torch.no_grad()
def validation_psnr_ssim(
    sr: torch.Tensor, hr: torch.Tensor, crop_border: int = 0, y_channel: bool = True
) -> tuple[float, float]:
    """Batched training-time validation on the device: images in [-1, 1] (B, 3, H, W) -> mean PSNR, SSIM."""
    sr_255, hr_255 = to_255(sr), to_255(hr)
    return (
        psnr(sr_255, hr_255, crop_border, y_channel).mean().item(),
        ssim(sr_255, hr_255, crop_border, y_channel).mean().item(),
    )
