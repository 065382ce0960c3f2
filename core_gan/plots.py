"""What a person looks at during training: loss curves and sample grids (matplotlib's Figure API:
no pyplot, so importing this chooses no backend)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from matplotlib.figure import Figure

from core_gan.checkpoint import atomic_write


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> None:
    """Images (N, C, H, W) in [-1, 1] -> one PNG grid, written atomically."""
    from torchvision.utils import make_grid, save_image  # torchvision: a second of start-up, paid at the first grid

    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, normalize=True, value_range=(-1, 1))
    atomic_write(path, lambda tmp: save_image(grid, tmp, format="png"))


def save_scatter(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None) -> None:
    """2-D samples (N, 2) over the real data (grey), for the toy distributions."""
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.subplots()
    if reference is not None:
        ax.scatter(*reference[:2000].T.cpu().numpy(), s=2, c="0.7", label="real")
    ax.scatter(*points.detach().float().cpu().T.numpy(), s=2, c="tab:red", label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))


def save_preview(
    samples: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None, columns: int = 8
) -> None:
    """A grid for images (N, C, H, W), ``columns`` wide; a scatter plot for points (N, 2)."""
    if samples.dim() == 2:
        save_scatter(samples, path, reference)
    else:
        save_grid(samples, path, nrow=columns)


def plot_losses(metrics_path: str | Path, out_path: str | Path) -> None:
    """One panel per network (keys ``D/...``, ``G/...``), every logged loss against the step."""
    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line.strip()]
    if not rows:
        return
    keys = sorted({k for row in rows for k in row if "/" in k and not k.startswith(("grad_norm", "diag/"))})
    groups = sorted({k.split("/")[0] for k in keys})
    fig = Figure(figsize=(5 * len(groups), 3.5), dpi=100)
    axes = fig.subplots(1, len(groups), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        for key in (k for k in keys if k.startswith(group + "/")):
            steps = [r["step"] for r in rows if key in r]
            ax.plot(steps, [r[key] for r in rows if key in r], label=key)
        ax.set_xlabel("step")
        ax.set_title(group)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(out_path, lambda tmp: fig.savefig(tmp, format="png"))
