"""What every app shares: the models loaded once at start-up, and turning bad input into gr.Error."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import threading
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image

from core_gan.data.images import open_image
from core_gan.errors import UserError
from gansuite.community import SPANDREL
from gansuite.inference import BaseGANModel, Translator, Upscaler
from gansuite.runs import (
    BASE_MODELS,
    SR_MODELS,
    TRANSLATION_MODELS,
    bundled_models,
    data_kind,
    directions,
    domains,
    resolve_run,
)
from gansuite.weights import import_available

UNSEEN_PHOTOS = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "photos"
"""The bundled sample photos: no bundled model was trained on them, so they are every tab's examples."""
MIN_SIDE = 8
# Uploads above this many pixels are refused before any work (a 10,000 x 10,000 photo would need
# 16 x 100 M output pixels at x4); super-resolution input is further capped by MAX_SR_INPUT_PIXELS.
MAX_UPLOAD_PIXELS = 40_000_000
MAX_SR_INPUT_PIXELS = 2048 * 2048


def uploaded_image(**kwargs) -> gr.Image:
    """An image upload whose file reaches the handler undecoded (its path): Gradio's own decoding
    would fail on a bad file with a generic error; :func:`read_upload` names the file and the problem.
    (The instance's ``preprocess`` is replaced: a subclass would make Gradio write a .pyi stub.)"""
    image = gr.Image(type="filepath", format="png", **kwargs)
    image.preprocess = lambda payload: None if payload is None else payload.path
    return image


FAST_PNG = {"compress_level": 1, "compress_type": zlib.Z_RLE}
"""zlib settings of the result PNGs (lossless at any setting): level 1 encoded a 1024 px result in 0.07 s,
Pillow's default level 6 in 0.32 s, for about 20 % more bytes; run-length matching on top (after PNG's
row filters) took 84-91 ms instead of 96-119 ms on 1024 px SRResNet outputs for 10 % fewer bytes, and as
long with 4x fewer bytes on flat images."""


class ResultFiles:
    """Results as PNG files, each in a folder of its own; only the newest ``keep`` are kept on disk.

    Why files: Gradio writes an array output in place to a cache path named by its content, so two
    requests with the same result (same seed, same upload) race and one reader gets a truncated file
    (seen in the soak test: about 1 good request in 10 with 8 clients). A file handed to Gradio is
    copied into its cache atomically instead. The folder goes when the process exits."""

    def __init__(self, keep: int = 512) -> None:
        self.keep = keep
        self._folders: deque[Path] = deque()
        self._lock = threading.Lock()
        self._root: Path | None = None

    def png(self, image: np.ndarray, name: str = "result") -> str:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="gansuite-app-"))
                atexit.register(shutil.rmtree, self._root, ignore_errors=True)
            folder = self._root / uuid.uuid4().hex
            self._folders.append(folder)
            stale = [self._folders.popleft() for _ in range(len(self._folders) - self.keep)]
        folder.mkdir()
        Image.fromarray(image).save(folder / f"{name}.png", format="PNG", **FAST_PNG)
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)
        return str(folder / f"{name}.png")

    def replace_arrays(self, value: Any) -> Any:
        """Every image array in a handler's return value (tuples included) as a PNG file's path."""
        if isinstance(value, np.ndarray):
            return self.png(value)
        if isinstance(value, tuple):
            return tuple(self.replace_arrays(v) for v in value)
        return value


RESULTS = ResultFiles()


BEST_FIRST = ("realesrgan-x4plus", "srresnet-x4")
"""Super-resolution models by how they look on photos of another source (the 2026-12-07 review: Real-ESRGAN
x4plus clearly best and near the photos' lattice energy, 0.95x; srresnet-x4 0.75x; srgan-x4 9.7x, a faint
line/checker texture on flat areas): the first present is a picker's default."""


LEFT_OUT = ("srgan-x4",)
"""Bundled models the apps do not offer (``--checkpoint NAME`` still serves one; the CLI runs them all):
srgan-x4 paints a faint line/checker texture on flat areas (9.7x the photos' energy on the period-2/4
pixel lattice, on photos of another source; the 2026-12-07 review)."""


class Halved:
    """An x4 upscaler followed by an antialiased halving: a x2 result from a learnt x4 model."""

    def __init__(self, x4: Upscaler) -> None:
        self.x4, self.scale = x4, 2

    def __call__(self, image: np.ndarray, tile: int = 512, overlap: int = 32, progress: Any = None) -> np.ndarray:
        big = Image.fromarray(self.x4(image, tile, overlap, progress))
        return np.asarray(big.resize((image.shape[1] * 2, image.shape[0] * 2), Image.Resampling.LANCZOS))


@dataclass
class AppModels:
    """Every model the apps serve, keyed by the name shown in the UI, with its card; loaded at start,
    and only added to afterwards (a reference model downloaded from the edges tab). ``translators``:
    pix2pix models from edges (the edges-to-photo tab); ``unpaired``: CycleGAN models, one translator
    per direction they hold (``AtoB``, ``BtoA``), and pix2pix models between other named domains (an
    imported zoo model such as facades labels -> photo)."""

    translators: dict[str, Translator] = field(default_factory=dict)
    unpaired: dict[str, dict[str, Translator]] = field(default_factory=dict)
    upscalers: dict[str, Upscaler | Halved] = field(default_factory=dict)
    gans: dict[str, BaseGANModel] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    given: list[str] = field(default_factory=list)
    """Names of the models the user gave (``--checkpoint``), in their order."""
    device: str = "cpu"
    """Where the models run (and models added later, e.g. downloaded from the zoo)."""

    def card(self, name: str | None) -> str:
        return self.cards.get(name or "", "")

    def default(self, names: list[str]) -> str | None:
        """A picker's first value among ``names``: the last model the user gave, else the best one on
        photos (:data:`BEST_FIRST`), else the first trained one (bundled before imported), bicubic only
        when nothing else is offered."""
        given = [n for n in names if n in self.given]
        if given:
            return given[-1]
        trained = [n for n in names if not n.startswith("bicubic")]
        ranked = sorted(trained, key=lambda n: next((i for i, b in enumerate(BEST_FIRST) if n.startswith(b)), 99))
        return (ranked or names or [None])[0]


def model_card(run: Path) -> str:
    """Markdown: what the model is and how it was trained, from the run's training.json (bundled
    models: description, steps, minutes, measured figures) or its config.json (any other run)."""
    training, config = run / "training.json", run / "config.json"
    if training.is_file():
        t = json.loads(training.read_text())
        lines = [f"{t.get('description', '')} ({t['steps']:,} steps, {t['train_minutes']} CPU minutes)."]
        figures = dict(t.get("figures", {}))
        if figures:
            on = figures.pop("photos", "photos it never saw")
            lines.append(f"On {on}: " + "; ".join(f"{k}: {v}" for k, v in figures.items()) + ".")
        lines.append(f"Reproduce: `python -m recipes.bundled --only {run.name}`.")
        return "\n\n".join(lines)
    meta = json.loads((run / "model.json").read_text())
    text = f"`{run}`: {meta.get('architecture', meta['model'])}"
    if config.is_file():
        c = json.loads(config.read_text())
        text += f", trained on `{c.get('data')}` ({c.get('recipe', 'no recipe recorded')})"
    if "source" in meta:
        text += f", imported from {meta['source']}"
    text += f"; weights of step {meta['step']}." if "step" in meta else "."
    if data_kind(meta) == "paired":
        text += " " + test_mode_sentence(meta.get("test_mode") == "paper")
    return text


def test_mode_sentence(paper: bool) -> str:
    """How the app runs a pix2pix model: the paper's test mode or eval mode."""
    if paper:
        return ("The app runs it as the reference code evaluated it: batch statistics and dropout on "
                "(`--paper-test-mode`), so two calls differ a little.")  # fmt: skip
    return ("The app runs it in eval mode (running statistics, no dropout; `gansuite translate "
            "--paper-test-mode` keeps them on, as the paper's test mode does).")  # fmt: skip


def card_under(models: AppModels, picker: gr.Dropdown) -> gr.Markdown:
    """The picked model's card, kept up to date under its picker (inside a gr.Blocks context)."""
    card = gr.Markdown(models.card(picker.value))
    picker.change(models.card, picker, card, api_name=False)
    return card


def load_models(runs: list[str] | None = None, device: str = "cpu", bundled: bool = True) -> AppModels:
    """The bundled checkpoints and imported weights (when ``bundled``; Real-ESRGAN is imported on the
    spot when the optional extra is installed) and every run in ``runs``, each in the app its model
    type belongs to; bicubic x2 and x4 are always offered for super-resolution."""
    models = AppModels(upscalers={f"bicubic x{s}": Upscaler("bicubic", device, s) for s in (2, 4)}, device=device)
    sources = [str(m.path) for m in bundled_models().values() if m.name not in LEFT_OUT] if bundled else []
    if bundled:
        sources += [str(path) for path in import_available().values()]
    for run in [*sources, *(runs or [])]:
        name = add_model(models, resolve_run(run), device)
        if run not in sources:
            models.given.append(name)
    return models


def add_model(models: AppModels, path: Path, device: str) -> str:
    """Load the run at ``path`` into the app its model type belongs to, with its card; its name in the UI.
    A model's CPU plan, when not yet measured on this machine, is measured in the background while it serves."""
    meta_path = path / "model.json"
    if not meta_path.is_file():
        raise UserError(f"{meta_path}: missing; is {path} a finished gansuite run?")
    meta = json.loads(meta_path.read_text())
    kind, name = meta.get("model"), path.name
    if data_kind(meta) == "paired" and domains(path, meta)[0] in ("A", "edges"):
        models.translators[name] = Translator(path, device, plan_in_background=True)
    elif kind in TRANSLATION_MODELS:
        models.unpaired[name] = {d: Translator(path, device, direction=d, plan_in_background=True)
                                 for d in directions(meta)}  # fmt: skip
    elif kind in (*SR_MODELS, SPANDREL):
        upscaler = Upscaler(path, device, plan_in_background=True)
        if upscaler.scale == 4:  # x2 from the learnt x4 model, as upscaler front ends do, not bicubic only
            models.upscalers[f"{name} x2"] = Halved(upscaler)
            models.cards[f"{name} x2"] = f"{name} at x4, then halved (Lanczos, antialiased)."
        name = f"{name} x{upscaler.scale}"
        models.upscalers[name] = upscaler
    elif kind in BASE_MODELS:
        models.gans[name] = BaseGANModel(path, device)
    else:
        raise UserError(f"{path}: a {kind} model has no app (apps serve pix2pix, CycleGAN, SR and base GANs)")
    models.cards[name] = model_card(path)
    return name


def read_upload(path: str | None, what: str = "an image") -> np.ndarray:
    """An uploaded file (Gradio passes a temporary path) -> uint8 (H, W, 3|4) or (H, W), checked."""
    if not path:
        raise UserError(f"no image: upload {what} first")
    name = Path(path).name
    try:
        image = np.array(open_image(path, channels=0, keep_alpha=True, max_pixels=MAX_UPLOAD_PIXELS))
    except UserError as e:
        raise UserError(f"{name}: {str(e).split(': ', 1)[-1]}") from e
    check_size(image, name)
    return image


def check_size(image: np.ndarray, name: str, max_pixels: int = MAX_UPLOAD_PIXELS) -> None:
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise UserError(f"{name}: {w}x{h} is too small; the smallest accepted side is {MIN_SIDE} pixels")
    if h * w > max_pixels:
        raise UserError(f"{name}: {w}x{h} has more than the {max_pixels:,} pixels this app accepts")


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """Scaled down (antialiased, aspect kept) so that neither side exceeds ``max_side``."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Gray -> RGB; RGBA -> RGB over white."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255
        return np.rint(image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return image
