"""Edges-to-photo: draw edges (black on white) or upload a photo whose Canny edges are taken with
the recipe of ``gansuite data edges``; a pix2pix checkpoint turns the edges into a photo."""

from __future__ import annotations

from functools import partial

import gradio as gr
import numpy as np
from PIL import Image

from apps.common import UNSEEN_PHOTOS, AppModels, card_under, check_size, read_upload, to_rgb, uploaded_image
from core_gan.data.builders import EdgeConfig, photo_and_edges
from core_gan.errors import UserError

CANVAS = 256


def sketch_to_edges(sketch: dict | None) -> np.ndarray | None:
    """The sketchpad's composite over white, as an RGB edge map; None when nothing was drawn."""
    composite = (sketch or {}).get("composite")
    if composite is None:
        return None
    edges = to_rgb(np.asarray(composite, dtype=np.uint8))
    return edges if (edges < 128).any() else None


def edges2photo(models: AppModels, sketch: dict | None, photo: str | None, model: str) -> tuple[np.ndarray, np.ndarray]:
    """(edge map, translated photo). An uploaded photo wins over the sketch."""
    if model not in models.translators:
        raise UserError(f"unknown model {model!r}; available: {', '.join(models.translators) or 'none'}")
    if photo:
        image = Image.fromarray(to_rgb(read_upload(photo, "a photo")))
        _, edges = photo_and_edges(image, EdgeConfig())
    else:
        edges = sketch_to_edges(sketch)
        if edges is None:
            raise UserError("nothing to translate: draw edges on the sketchpad or upload a photo")
        check_size(edges, "the sketch")
    return edges, models.translators[model](edges)


def white_canvas() -> dict:
    return {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8), "layers": [], "composite": None}


def build(models: AppModels, guard) -> None:
    """The tab's components and events (inside a gr.Blocks context)."""
    names = list(models.translators)
    with gr.Row():
        with gr.Column():
            sketch = gr.Sketchpad(
                value=white_canvas(), label="draw edges (black on white)", type="numpy", image_mode="RGB",
                brush=gr.Brush(colors=["#000000"], default_color="#000000", color_mode="fixed", default_size=2),
                canvas_size=(CANVAS, CANVAS), format="png",
            )  # fmt: skip
            photo = uploaded_image(label="... or upload a photo (its edges are used)")
            model = gr.Dropdown(names, value=models.default(names), label="pix2pix model")
            card_under(models, model)
            button = gr.Button("Translate", variant="primary")
        with gr.Column():
            edges = gr.Image(label="edges", format="png", interactive=False)
            result = gr.Image(label="photo", format="png", interactive=False)
    gr.Examples(
        [[str(p)] for p in sorted(UNSEEN_PHOTOS.glob("*.jpg"))], inputs=[photo], label="photos no model was trained on"
    )
    button.click(guard(partial(edges2photo, models)), [sketch, photo, model], [edges, result],
                 api_name="edges2photo")  # fmt: skip
