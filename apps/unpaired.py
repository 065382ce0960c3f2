"""Unpaired translation: a CycleGAN model turns a photo of one domain into the other, in the direction
picked, shown beside the input."""

from __future__ import annotations

import json
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
    """(the input as translated, G(input)): ``direction`` ``AtoB`` uses G, ``BtoA`` uses F."""
    if model not in models.unpaired:
        raise UserError(f"unknown model {model!r}; available: {', '.join(models.unpaired) or 'none'}")
    directions = models.unpaired[model]
    if direction not in directions:
        raise UserError(f"unknown direction {direction!r}; expected {' or '.join(directions)}")
    image = fit(to_rgb(read_upload(photo, "a photo")), MAX_SIDE)
    return image, directions[direction](image)


def direction_choices(models: AppModels, model: str | None) -> list[tuple[str, str]]:
    """Radio choices (label, value): the domains' names where the run records them (training.json)."""
    a, b = "A", "B"
    if model in models.unpaired:
        training = Path(models.unpaired[model]["AtoB"].run) / "training.json"
        if training.is_file():
            a, b = json.loads(training.read_text()).get("domains", [a, b])
    return [(f"{a} → {b}", "AtoB"), (f"{b} → {a}", "BtoA")]


def pick_model(models: AppModels, model: str | None) -> gr.Radio:
    return gr.Radio(choices=direction_choices(models, model), value="AtoB")


def build(models: AppModels, guard) -> None:
    names = list(models.unpaired)
    first = names[0] if names else None
    with gr.Row():
        with gr.Column():
            photo = uploaded_image(label=f"photo (scaled to at most {MAX_SIDE} px a side)", elem_id="unpaired-image")
            model = gr.Dropdown(names, value=first, label="CycleGAN model")
            card_under(models, model)
            direction = gr.Radio(direction_choices(models, first), value="AtoB", label="direction")
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
