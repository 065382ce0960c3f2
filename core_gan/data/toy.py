"""2-D mixtures of Gaussians, the standard mode-collapse test beds."""

from __future__ import annotations

import math

import torch
from torch.utils.data import TensorDataset

RING8_RADIUS, RING8_STD = 2.0, 0.02
GRID25_SPACING, GRID25_STD = 2.0, 0.05


def ring8_modes() -> torch.Tensor:
    """(8, 2): the means of 8 Gaussians evenly spaced on a circle of radius 2 (Metz et al. 2017)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_modes() -> torch.Tensor:
    """(25, 2): the means of a 5x5 grid with spacing 2 centred at the origin."""
    ticks = (torch.arange(5, dtype=torch.float32) - 2) * GRID25_SPACING
    return torch.cartesian_prod(ticks, ticks)


TOYS = {"ring8": (ring8_modes, RING8_STD), "grid25": (grid25_modes, GRID25_STD)}


def toy_dataset(name: str, n: int = 65_536, seed: int = 0) -> TensorDataset:
    """``n`` points (n, 2) with their mode index (n,), drawn once with a fixed seed."""
    modes_fn, std = TOYS[name]
    modes = modes_fn()
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(modes), (n,), generator=gen)
    points = modes[labels] + std * torch.randn(n, 2, generator=gen)
    return TensorDataset(points, labels)


def mode_coverage(samples: torch.Tensor, name: str, n_std: float = 3.0) -> tuple[int, float]:
    """(number of modes hit by at least one high-quality sample, fraction of high-quality samples).

    A sample is high quality when it lies within ``n_std`` standard deviations of its nearest mode
    (the Unrolled-GAN / VEEGAN protocol).
    """
    modes_fn, std = TOYS[name]
    dist = torch.cdist(samples.float(), modes_fn())
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist < n_std * std
    return int(nearest[good].unique().numel()), float(good.float().mean())
