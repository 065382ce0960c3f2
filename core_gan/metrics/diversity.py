"""How varied a generator's samples are, relative to the data: the mode-collapse figures of
core_gan.diagnosis and of the digits benchmark.

Distances are taken between images shrunk to 8 x 8 (a space that needs no trained network, and in
which two renderings of one digit or one scene are close) or between 2-D points as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIDE = 8


def mean_pairwise_distance(x: torch.Tensor, side: int = SIDE) -> float:
    """The mean L2 distance between the items of a batch (N >= 2): images (N, C, H, W) at ``side`` x
    ``side`` px, or points (N, D) as they are."""
    x = x.detach().float()
    if x.dim() == 4:
        x = F.adaptive_avg_pool2d(x, side)
    return float(torch.pdist(x.flatten(1)).mean())


def diversity(
    samples: torch.Tensor, real: torch.Tensor, sample_labels: torch.Tensor | None = None,
    real_labels: torch.Tensor | None = None,
) -> dict[str, float]:  # fmt: skip
    """``diversity``: the samples' mean pairwise distance over the real data's, per class when labels are
    given (then averaged, with ``diversity_min``, the lowest class's). 1: as varied as the data; near 0:
    one sample drawn again and again (mode collapse)."""
    if sample_labels is None or real_labels is None:
        return {"diversity": mean_pairwise_distance(samples) / max(mean_pairwise_distance(real), 1e-12)}
    ratios = []
    for label in sample_labels.unique().tolist():
        fake, data = samples[sample_labels == label], real[real_labels.to(sample_labels.device) == label]
        if len(fake) >= 2 and len(data) >= 2:
            ratios.append(mean_pairwise_distance(fake) / max(mean_pairwise_distance(data), 1e-12))
    if not ratios:
        return {}
    return {"diversity": sum(ratios) / len(ratios), "diversity_min": min(ratios)}


def translation_diversity(inputs: torch.Tensor, outputs: torch.Tensor) -> dict[str, float]:
    """``msgan``: the outputs' mean pairwise distance over the inputs' (Mao et al., "Mode seeking GANs",
    CVPR 2019, Eq. 2 as a figure): near 0 when G draws one picture whatever it is given."""
    if len(inputs) < 2:
        return {}
    spread = mean_pairwise_distance(inputs[:, : outputs.shape[1]])
    return {"msgan": mean_pairwise_distance(outputs) / max(spread, 1e-12)}
