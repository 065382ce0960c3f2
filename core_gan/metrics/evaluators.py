"""Paired evaluation of a generator: the L1, PSNR and SSIM that training-time validation and
``gansuite eval run`` report, computed by one function on (input, target) pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.utils.data import Dataset

from core_gan.metrics.image_quality import validation_psnr_ssim


def paired_scores(
    generate: Callable[[torch.Tensor], torch.Tensor], pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
    crop_border: int = 0, y_channel: bool = False,
) -> dict[str, float]:  # fmt: skip
    """Mean L1 (on [-1, 1]), PSNR and SSIM (8-bit protocol) of ``generate(x)`` against y over ``pairs``
    of (1, C, H, W) tensors in [-1, 1], one pair at a time (whole images may differ in size): RGB
    for pix2pix, Y with the scale cropped for super-resolution."""
    l1, psnr_sum, ssim_sum, k = 0.0, 0.0, 0.0, 0
    for x, y in pairs:
        out = generate(x).float().cpu()
        l1 += (out - y).abs().mean().item()
        p, s = validation_psnr_ssim(out, y, crop_border, y_channel)
        psnr_sum, ssim_sum, k = psnr_sum + p, ssim_sum + s, k + 1
    return {"l1": l1 / k, "psnr": psnr_sum / k, "ssim": ssim_sum / k, "n": k}


def paired_validation(
    pairs: Dataset, n: int, crop_border: int = 0, y_channel: bool = False
) -> Callable[[nn.ModuleDict], dict[str, float]]:
    """The trainer's evaluator: :func:`paired_scores` of G on the first ``n`` items of ``pairs``."""
    batches = [tuple(t[None] for t in pairs[i]) for i in range(min(n, len(pairs)))]  # type: ignore[arg-type]

    def evaluate(generators: nn.ModuleDict) -> dict[str, float]:
        G = generators["G"]
        device = next(G.parameters()).device
        scores = paired_scores(lambda x: G(x.to(device)), batches, crop_border, y_channel)
        return {k: v for k, v in scores.items() if k != "n"}

    return evaluate
