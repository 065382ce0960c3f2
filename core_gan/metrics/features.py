"""Feature extraction for FID / KID / IS: folders of images -> Inception features, with a protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from core_gan.data.images import list_images, open_image

Resize = Literal["legacy", "clean"]
INCEPTION_SIZE = 299


def resize_for_inception(images: torch.Tensor, mode: Resize = "legacy") -> torch.Tensor:
    """Images (B, 3, H, W) in [0, 1] -> (B, 3, 299, 299).

    ``legacy``: bilinear without antialiasing, exactly pytorch-fid's preprocessing (what published
    FIDs use). ``clean``: antialiased bicubic, the alias-free resize clean-fid argues for (Parmar et
    al. 2022); numbers from the two are not comparable.
    """
    size = (INCEPTION_SIZE, INCEPTION_SIZE)
    if mode == "legacy":
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False)
    return F.interpolate(images, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)


class FeatureExtractor(Protocol):
    """What FID/KID/IS need of a network: images in [0, 1] -> (features (B, d), logits (B, k) or None)."""

    name: str
    dim: int

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...


class InceptionExtractor:
    """The FID Inception-v3 (pool3, 2048-d; 1008-way logits for IS) behind the protocol's resize."""

    name = "inception-v3-compat (pt_inception-2015-12-05)"
    dim = 2048

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu",
                 resize: Resize = "legacy") -> None:  # fmt: skip
        from core_gan.metrics.inception import load_fid_inception  # torchvision: a second of start-up

        self.device = torch.device(device)
        self.net = load_fid_inception(weights).to(self.device)
        self.resize = resize

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.net(resize_for_inception(images.to(self.device).float(), self.resize))


class _ImageFiles(Dataset):
    """Images as float tensors (3, H, W) in [0, 1], in file-name order, each at its own size."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        array = np.asarray(open_image(self.files[i], 3), dtype=np.float32) / 255.0
        return torch.from_numpy(array.transpose(2, 0, 1).copy())


@dataclass
class Features:
    features: np.ndarray
    logits: np.ndarray | None


def folder_features(
    folder: str | Path, extractor: FeatureExtractor, batch_size: int = 50, num_workers: int = 0
) -> Features:
    """Features of every image under ``folder``; images of mixed sizes are fed one size at a time."""
    files = list_images(folder)
    loader = DataLoader(_ImageFiles(files), batch_size=1, num_workers=num_workers)
    feats, logits, pending = [], [], []

    def flush() -> None:
        f, lg = extractor(torch.cat(pending))
        feats.append(f.double().cpu().numpy())
        if lg is not None:
            logits.append(lg.double().cpu().numpy())
        pending.clear()

    for image in tqdm(loader, desc=f"features {Path(folder).name}", unit="img", leave=False):
        if pending and (image.shape != pending[0].shape or len(pending) == batch_size):
            flush()
        pending.append(image)
    flush()
    return Features(np.concatenate(feats), np.concatenate(logits) if logits else None)
