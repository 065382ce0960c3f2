"""GAN sampling: a grid of samples from seeds, a class label for conditional models, and a latent
interpolation strip between two seeds. Small samples are shown enlarged with nearest neighbours;
the download holds the true pixels."""

from __future__ import annotations

from functools import partial

import gradio as gr
import numpy as np
import torch
from torchvision.utils import make_grid

from apps.common import RESULTS, AppModels, card_under
from core_gan.errors import UserError
from core_gan.pixels import to_uint8
from gansuite.inference import BaseGANModel

MAX_SAMPLES = 64
MAX_STEPS = 16
SHOWN_TILE = 128
"""Samples are displayed at least this many pixels wide (a 32 px digit is shown 4x, pixel for pixel)."""


def _model(models: AppModels, name: str) -> BaseGANModel:
    if name not in models.gans:
        raise UserError(f"unknown model {name!r}; available: {', '.join(models.gans) or 'none'}")
    return models.gans[name]


def _label(model: BaseGANModel, label: float | None) -> int | None:
    """The UI's label (-1 or empty = none/mixed) for a conditional model; ignored otherwise."""
    if not model.num_classes or label is None or label < 0:
        return None
    return int(label)


def _grid(images: torch.Tensor, nrow: int, name: str) -> tuple[np.ndarray, str]:
    """(the grid enlarged for display, path of the grid's true pixels as PNG)."""
    tiles = torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2)
    zoom = max(1, SHOWN_TILE // tiles.shape[-1])
    grid = make_grid(tiles, nrow=nrow, padding=2, pad_value=255).permute(1, 2, 0).numpy()
    shown = make_grid(tiles.repeat_interleave(zoom, 2).repeat_interleave(zoom, 3), nrow=nrow, padding=2 * zoom,
                      pad_value=255)  # fmt: skip
    return shown.permute(1, 2, 0).numpy(), RESULTS.png(grid, name)


def sample(models: AppModels, model: str, seed: float, n: float, label: float | None) -> tuple[np.ndarray, str]:
    """A grid of ``n`` samples from seeds seed, seed + 1, ... (all of class ``label`` when given)."""
    if not 1 <= int(n) <= MAX_SAMPLES:
        raise UserError(f"number of samples must be 1..{MAX_SAMPLES}, got {n}")
    m = _model(models, model)
    images = m.sample(int(n), int(seed), _label(m, label))
    return _grid(images, min(8, int(n)), f"{model}_seed{int(seed)}")


def interpolate(
    models: AppModels, model: str, seed_a: float, seed_b: float, steps: float, label: float | None
) -> tuple[np.ndarray, str]:
    """G along the straight line between the latents of two seeds, ``steps`` images in a row; a
    conditional model keeps one class along it (without a label: the class seed A draws)."""
    if not 2 <= int(steps) <= MAX_STEPS:
        raise UserError(f"steps must be 2..{MAX_STEPS}, got {steps}")
    m = _model(models, model)
    strip = m.interpolate(int(seed_a), int(seed_b), int(steps), label=_label(m, label))
    return _grid(strip, int(steps), f"{model}_{int(seed_a)}_to_{int(seed_b)}")


def build(models: AppModels, guard) -> None:
    names = list(models.gans)
    with gr.Row():
        with gr.Column():
            model = gr.Dropdown(names, value=models.default(names), label="model")
            card_under(models, model)
            label = gr.Number(-1, precision=0, label="class label (conditional models; -1: one of each, and "
                              "for the strip the class seed A draws)")  # fmt: skip
            seed = gr.Number(0, precision=0, label="seed")
            n = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="samples")
            go = gr.Button("Sample", variant="primary")
        with gr.Column():
            grid = gr.Image(label="samples (enlarged)", format="png", interactive=False)
            grid_file = gr.File(label="download (true pixels, PNG)")
    with gr.Row():
        seed_a = gr.Number(1, precision=0, label="seed A")
        seed_b = gr.Number(2, precision=0, label="seed B")
        steps = gr.Slider(2, MAX_STEPS, value=8, step=1, label="steps")
        walk = gr.Button("Interpolate")
    strip = gr.Image(label="interpolation (enlarged)", format="png", interactive=False)
    strip_file = gr.File(label="download (true pixels, PNG)")
    go.click(guard(partial(sample, models)), [model, seed, n, label], [grid, grid_file], api_name="sample")
    walk.click(guard(partial(interpolate, models)), [model, seed_a, seed_b, steps, label], [strip, strip_file],
               api_name="interpolate")  # fmt: skip
