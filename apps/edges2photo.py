"""Edges-to-photo: draw lines in black and colour hints in any other colour, or upload a photo whose
Canny edges are taken with the recipe of ``gansuite data edges`` (and, for a model trained with hints,
hint points taken from the photo itself); a pix2pix checkpoint turns them into a photo.

How a painted sketch is read (:func:`split_sketch`): a stroke's opaque pixels (alpha >= 128) are a line
where black (every channel below ``LINE_LEVEL``) and a hint in their colour otherwise. The canvas
underneath (white, uploaded edges or an example) gives lines where dark and grey, hints where coloured.
A colour painted over a line adds a hint there and keeps the line. Models trained without hints
ignore the colours (the input shown has none).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from apps.common import UNSEEN_PHOTOS, AppModels, add_model, card_under, check_size, read_upload, to_rgb, uploaded_image
from core_gan.data.builders import EdgeConfig, photo_and_edges, square_hints
from core_gan.data.images import hints_array, open_hints
from core_gan.errors import UserError
from core_gan.hints import LINE_LEVEL, evaluation_hints, painted_over
from core_gan.pixels import signed

CANVAS = 256
CHROMA = 48
"""A canvas pixel whose channels spread by at least this much is coloured: a hint, not a line."""
PALETTE = ["#000000", "#c0392b", "#e67e22", "#f1c40f", "#27ae60", "#2e86c1", "#85c1e9", "#7d5a3c", "#f0c8a0",
           "#808080", "#ffffff"]  # fmt: skip
ZOO_MODELS = {"pix2pix-edges2shoes": "shoes", "pix2pix-edges2handbags": "handbags"}
"""The reference pix2pix models from edges (junyanz' zoo, 218 MB each), offered with one button each."""
PAINTED = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "painted"
"""Painted sketches (edges + a layer of colour strokes) made from the bundled photos no model was trained on."""


def split_sketch(sketch: dict | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The sketchpad's value -> (edges, uint8 RGB (H, W, 3), hints, uint8 RGBA (H, W, 4)); None when
    nothing was drawn. See the module's docstring for the rule; a value with only a ``composite`` (as
    callers of the endpoint before hints sent it) is read as the canvas."""
    sketch = sketch or {}
    background = sketch.get("background") if sketch.get("background") is not None else sketch.get("composite")
    if background is None:
        return None
    canvas = to_rgb(np.asarray(background, dtype=np.uint8))
    h, w = canvas.shape[:2]
    coloured = canvas.astype(np.int16).max(axis=2) - canvas.min(axis=2) >= CHROMA
    edges = np.where(coloured[..., None], np.uint8(255), canvas)
    hints = np.zeros((h, w, 4), np.uint8)
    hints[coloured] = np.concatenate([canvas[coloured], np.full((int(coloured.sum()), 1), 255, np.uint8)], axis=1)
    for layer in sketch.get("layers") or []:
        layer = np.asarray(layer, dtype=np.uint8)
        if layer.ndim != 3 or layer.shape[:2] != (h, w) or layer.shape[2] != 4:
            continue
        painted = layer[..., 3] >= 128
        line = painted & (layer[..., :3].max(axis=2) < LINE_LEVEL)
        edges[line] = 0
        hint = painted & ~line
        hints[hint] = np.concatenate([layer[hint][:, :3], np.full((int(hint.sum()), 1), 255, np.uint8)], axis=1)
    if not (edges < 128).any() and not (hints[..., 3] > 0).any():
        return None
    return edges, hints


def uploaded_hints(path: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """An uploaded RGBA hints image at ``size`` (width, height: the sketch's), else cut as an uploaded
    photo is (its centre square at the edges' size). Errors name the file, not Gradio's temporary path."""
    try:
        hints = open_hints(path)
        if size is None:
            return np.asarray(square_hints(hints))
        return hints_array(hints, *size)
    except UserError as e:
        raise UserError(f"{Path(path).name}: {str(e).split(': ', 1)[-1]}") from e


def edges2photo(
    models: AppModels, sketch: dict | None, photo: str | None, model: str, hint_points: float = 32,
    hints_image: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(what the model was given: edges with the hints over them, translated photo). An uploaded photo
    wins over the sketch; it gives its edges and ``hint_points`` hint points of its own colours.
    ``hints_image`` (RGBA, opaque pixels are hints; drawn on the photo, or of the sketch's shape)
    replaces the hints of either."""
    if model not in models.translators:
        raise UserError(f"unknown model {model!r}; available: {', '.join(models.translators) or 'none'}")
    translator = models.translators[model]
    hints = None
    if photo:
        image = Image.fromarray(to_rgb(read_upload(photo, "a photo")))
        square, edges = photo_and_edges(image, EdgeConfig())
        if int(hint_points) > 0:
            hints = evaluation_hints(signed(square), int(hint_points), seed=0).to_rgba()
    else:
        split = split_sketch(sketch)
        if split is None:
            raise UserError("nothing to translate: draw on the sketchpad or upload a photo")
        edges, hints = split
        check_size(edges, "the sketch")
    if hints_image:
        hints = uploaded_hints(hints_image, None if photo else (edges.shape[1], edges.shape[0]))
    if not translator.hints or (hints is not None and not (hints[..., 3] >= 128).any()):
        hints = None
    return painted_over(edges, hints), translator(edges, hints)


def fetch_zoo_model(
    models: AppModels,
    name: str,
    progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
) -> gr.Dropdown:
    """Download a reference zoo model into the cache (its digest recorded at the first download and
    checked after), import it and offer it in the picker. Offline, the error says what to download and
    where to put it."""
    from gansuite.weights import import_weights

    added = add_model(models, import_weights(name), models.device)
    return gr.Dropdown(choices=list(models.translators), value=added)


def white_canvas() -> dict:
    return {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8), "layers": [], "composite": None}


def painted_examples() -> list[list[dict]]:
    """The sketchpad values of the painted examples: the edges as canvas, the colour strokes as a layer."""
    return [[{"background": str(edges), "layers": [str(edges.with_name(edges.name.replace("_edges", "_hints")))],
              "composite": None}] for edges in sorted(PAINTED.glob("*_edges.png"))]  # fmt: skip


def build(models: AppModels, guard) -> None:
    """The tab's components and events (inside a gr.Blocks context)."""
    names = list(models.translators)
    with gr.Row():
        with gr.Column():
            sketch = gr.Sketchpad(
                value=white_canvas(), label="draw lines in black, colour hints in any other colour",
                type="numpy", image_mode="RGBA", canvas_size=(CANVAS, CANVAS), format="png",
                brush=gr.Brush(colors=PALETTE, default_color="#000000", color_mode="defaults", default_size=3),
                eraser=gr.Eraser(default_size=10),
            )  # fmt: skip
            photo = uploaded_image(label="... or upload a photo (its edges are used)")
            hint_points = gr.Slider(0, 256, value=32, step=1, label="hint points taken from the uploaded photo "
                                    "(0: the model without hints)")  # fmt: skip
            with gr.Accordion("colour hints as an image", open=False):
                hints_image = uploaded_image(label="RGBA PNG: opaque pixels are hints in their colour")
            model = gr.Dropdown(names, value=models.default(names), label="pix2pix model")
            card_under(models, model)
            with gr.Row():
                for name, what in ZOO_MODELS.items():
                    fetch = gr.Button(f"Download the reference {what} model (218 MB)", size="sm")
                    fetch.click(guard(partial(fetch_zoo_model, models, name)), None, model, api_name=f"fetch_{what}")
            button = gr.Button("Translate", variant="primary")
        with gr.Column():
            edges = gr.Image(label="the model's input: edges and hints", format="png", interactive=False)
            result = gr.Image(label="photo", format="png", interactive=False)
    if PAINTED.is_dir():
        gr.Examples(painted_examples(), inputs=[sketch], label="painted sketches of photos no model was trained on")
    gr.Examples(
        [[str(p)] for p in sorted(UNSEEN_PHOTOS.glob("*.jpg"))], inputs=[photo], label="photos no model was trained on"
    )
    button.click(guard(partial(edges2photo, models)), [sketch, photo, model, hint_points, hints_image],
                 [edges, result], api_name="edges2photo")  # fmt: skip
