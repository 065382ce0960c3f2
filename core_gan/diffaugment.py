"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020):
D sees real and generated images through the same kind of random differentiable transforms, in its own
update and in G's, so that a D trained on a few hundred images cannot win by memorising them while G
still gets gradients through the transform. Images (B, C, H, W) in [-1, 1]; draws from torch's global
generator (the trainer seeds it and saves its state in checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

Policy = Literal["none", "translation+cutout", "color+translation+cutout"]
POLICY_HELP = "DiffAugment of D's inputs, real and generated (Zhao et al. 2020; none: the paper's D)"


def _uniform(x: torch.Tensor) -> torch.Tensor:
    """One draw in [0, 1) per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor) -> torch.Tensor:
    """Brightness + [-0.5, 0.5), saturation x [0, 2), contrast x [0.5, 1.5), as in the paper's code."""
    x = x + (_uniform(x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Each image shifted by a whole number of pixels, up to ``ratio`` of its size each way; the
    uncovered border is 0 (mid-grey)."""
    b, _, h, w = x.shape
    dy, dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = torch.randint(-dy, dy + 1, (b, 1, 1), device=x.device)
    shift_x = torch.randint(-dx, dx + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + shift_y + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + shift_x + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """A square of ``ratio`` of the image's size set to 0 at a random place (partly outside: clipped)."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}  # fmt: skip


def diff_augment(x: torch.Tensor, policy: Policy) -> torch.Tensor:
    """``x`` through each transform the policy names, in its order (``none``: unchanged)."""
    if policy == "none":
        return x
    for name in policy.split("+"):
        x = TRANSFORMS[name](x)
    return x
