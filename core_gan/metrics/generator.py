"""Periodic evaluation of a generator during training, in any extractor's feature space."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from core_gan.metrics.statistics import distribution_distances
from core_gan.pixels import to_unit

if TYPE_CHECKING:
    from core_gan.metrics.features import FeatureExtractor


def _to_unit_rgb(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] with 1 or 3 channels -> 3-channel images in [0, 1], what extractors take."""
    x = to_unit(images.float().clamp(-1, 1))
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


class SampleDistance:
    """Fréchet distance and KID between generated and real images (Heusel et al.; Bińkowski et al.).

    Real features are computed once; each call draws ``n`` samples through ``sample(n)`` (images in
    [-1, 1]). Returns ``{"fd": ..., "kid": ...}`` with the extractor's name in the keys' protocol.
    """

    def __init__(self, extractor: FeatureExtractor, real: torch.Tensor, n: int = 1000, batch_size: int = 250) -> None:
        self.extractor = extractor
        self.n = min(n, len(real))
        self.batch_size = batch_size
        self.real = self._features(real[: self.n])

    def _features(self, images: torch.Tensor) -> np.ndarray:
        chunks = [self.extractor(_to_unit_rgb(c))[0].double().cpu().numpy() for c in images.split(self.batch_size)]
        return np.concatenate(chunks)

    def __call__(self, sample: Callable[[int], torch.Tensor]) -> dict[str, float]:
        distances = distribution_distances(self._features(sample(self.n)), self.real, subsets=10)
        return {"fd": distances["fid"], "kid": distances["kid"]}
