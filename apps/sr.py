"""Super-resolution: any image, any model the suite can load (bicubic, SRResNet, SRGAN, imported
weights), tiled with a progress bar; before/after slider; PNG out (Gradio's WebP default is lossy)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np

from apps.common import (
    MAX_SR_INPUT_PIXELS,
    RESULTS,
    UNSEEN_PHOTOS,
    AppModels,
    card_under,
    check_size,
    read_upload,
    uploaded_image,
)
from core_gan.errors import UserError

TILE, OVERLAP = 256, 16


def upscale(
    models: AppModels,
    image: str | None,
    model: str,
    progress: gr.Progress = gr.Progress(),  # noqa: B008
) -> tuple[tuple[np.ndarray, str], str]:
    """((input enlarged with nearest neighbours, result as a PNG path), that path). Gradio fills
    ``progress`` with its tracker because of that default."""
    if model not in models.upscalers:
        raise UserError(f"unknown model {model!r}; available: {', '.join(models.upscalers)}")
    array = read_upload(image)
    check_size(array, Path(image).name, MAX_SR_INPUT_PIXELS)
    upscaler = models.upscalers[model]

    def report(done: int, total: int) -> None:
        progress((done, total), desc="tiles", unit="tile")

    result = upscaler(array, TILE, OVERLAP, report)
    s = upscaler.scale
    before = np.repeat(np.repeat(array, s, axis=0), s, axis=1)
    path = RESULTS.png(result, f"{Path(image).stem}_x{s}")  # encoded once, for the slider and the download
    return (before, path), path


def choices_for(models: AppModels, scale: str) -> gr.Dropdown:
    names = [name for name, m in models.upscalers.items() if f"x{m.scale}" == scale]
    return gr.Dropdown(choices=names, value=models.default(names))


def build(models: AppModels, guard) -> None:
    scales = sorted({f"x{m.scale}" for m in models.upscalers.values()}, key=lambda s: int(s[1:]))
    default = "x4" if "x4" in scales else scales[0]
    first = [n for n, m in models.upscalers.items() if f"x{m.scale}" == default]
    with gr.Row():
        with gr.Column():
            image = uploaded_image(label="image", elem_id="sr-image")
            scale = gr.Radio(scales, value=default, label="scale")
            model = gr.Dropdown(first, value=models.default(first), label="model")
            card_under(models, model)
            button = gr.Button("Upscale", variant="primary")
        with gr.Column():
            slider = gr.ImageSlider(label="before | after", format="png", interactive=False)
            download = gr.File(label="download (PNG)", elem_id="sr-download")
    gr.Examples(
        [[str(p)] for p in sorted(UNSEEN_PHOTOS.glob("*.jpg"))], inputs=[image], label="photos no model was trained on"
    )
    scale.change(partial(choices_for, models), scale, model, api_name=False)
    button.click(guard(partial(upscale, models)), [image, model], [slider, download], api_name="upscale")
