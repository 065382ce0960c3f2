"""Unpaired translation: a CycleGAN model turns a photo of one domain into the other, in the direction
picked, shown beside the input; a CUT or FastCUT model goes the one way it was trained. Imported
pix2pix models between photo-like domains (the reference zoo's facades, maps, day-to-night) are served
here too: they also take an image as it is."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np

from apps.common import AppModels, card_under, fit, read_upload, to_rgb, uploaded_image
from core_gan.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "unpaired"
MAX_SIDE = 512
"""Uploads are scaled down to at most this many pixels a side first (a CPU call stays near a second)."""


def translate_unpaired(
    models: AppModels, photo: str | None, model: str, direction: str
) -> tuple[np.ndarray, np.ndarray]:
    """(the input as translated, its translation) in ``direction``, one the model holds."""
    if model not in models.unpaired:
        raise UserError(f"unknown model {model!r}; available: {', '.join(models.unpaired) or 'none'}")
    directions = models.unpaired[model]
    if direction not in directions:
        raise UserError(f"unknown direction {direction!r}; expected {' or '.join(directions)}")
    image = fit(to_rgb(read_upload(photo, "a photo")), MAX_SIDE)
    return image, directions[direction](image)


def direction_choices(models: AppModels, model: str | None) -> list[tuple[str, str]]:
    """Radio choices (label, value): the directions the model holds, by its domains' names."""
    if model not in models.unpaired:
        return [("A → B", "AtoB"), ("B → A", "BtoA")]
    translators = models.unpaired[model]
    a, b = next(iter(translators.values())).domains
    labels = {"AtoB": f"{a} → {b}", "BtoA": f"{b} → {a}"}
    return [(labels[d], d) for d in translators]


def pick_model(models: AppModels, model: str | None) -> gr.Radio:
    choices = direction_choices(models, model)
    return gr.Radio(choices=choices, value=choices[0][1])


def build(models: AppModels, guard) -> None:
    names = list(models.unpaired)
    first = models.default(names)
    with gr.Row():
        with gr.Column():
            photo = uploaded_image(label=f"photo (scaled to at most {MAX_SIDE} px a side)", elem_id="unpaired-image")
            model = gr.Dropdown(names, value=first, label="model (CycleGAN, CUT, FastCUT; imported pix2pix)")
            card_under(models, model)
            choices = direction_choices(models, first)
            direction = gr.Radio(choices, value=choices[0][1], label="direction")
            button = gr.Button("Translate", variant="primary")
        with gr.Column():
            before = gr.Image(label="input", format="png", interactive=False)
            after = gr.Image(label="translated", format="png", interactive=False)
    examples = sorted(EXAMPLES.glob("*.jpg"))
    if examples:
        gr.Examples([[str(p)] for p in examples], inputs=[photo])
    model.change(partial(pick_model, models), model, direction, api_name=False)
    button.click(guard(partial(translate_unpaired, models)), [photo, model, direction], [before, after],
                 api_name="translate_unpaired")  # fmt: skip
