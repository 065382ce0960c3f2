"""scikit-learn's 1,797 handwritten 8x8 digits, served as 1-channel images in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from core_gan.errors import UserError


def load_digits_tensors(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (1797, 1, S, S) in [-1, 1] (bicubic-upsampled from 8x8, clamped) and labels (1797,)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise UserError("the digits data needs scikit-learn: pip install scikit-learn") from e
    digits = load_digits()
    images = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(image_size, image_size), mode="bicubic", align_corners=False)
    return images.clamp(0, 1) * 2 - 1, torch.from_numpy(digits.target).long()


def digits_dataset(image_size: int = 32) -> TensorDataset:
    return TensorDataset(*load_digits_tensors(image_size))
