"""Runs by name or path, in one place: the checkpoints that ship with gansuite
(``gansuite/checkpoints/NAME``, trained by ``python -m apps.train_bundled``), the imported ones
(``$TORCH_HOME/hub/gansuite/NAME``, by ``gansuite weights import``) and run directories; and loading
a run's generators from ``model.safetensors`` + ``model.json``. Every RUN argument goes through
:func:`resolve_run`, so a NAME works wherever a RUN does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core_gan.checkpoint import load_inference
from core_gan.config import config_from_dict
from core_gan.download import cache_dir
from core_gan.errors import UserError
from gansuite.registry import MODELS

CHECKPOINTS = Path(__file__).with_name("checkpoints")
BASE_MODELS = tuple(name for name, spec in MODELS.items() if spec.family == "base")
SR_MODELS = tuple(name for name, spec in MODELS.items() if spec.family == "sr")
TRANSLATION_MODELS = ("pix2pix", "cyclegan")


@dataclass(frozen=True)
class BundledModel:
    name: str
    path: Path
    model: str
    description: str


def bundled_models() -> dict[str, BundledModel]:
    """Name -> bundled model, for every folder of ``gansuite/checkpoints`` holding a model.json."""
    found = {}
    for meta_path in sorted(CHECKPOINTS.glob("*/model.json")):
        folder = meta_path.parent
        training = folder / "training.json"
        description = json.loads(training.read_text()).get("description", "") if training.is_file() else ""
        found[folder.name] = BundledModel(folder.name, folder, json.loads(meta_path.read_text())["model"], description)
    return found


def imported_dir() -> Path:
    """Where imported weights go by default (next to torch hub's cache): ``$TORCH_HOME/hub/gansuite``."""
    return cache_dir().parent / "gansuite"


def imported_runs() -> dict[str, Path]:
    """Name -> run directory of every model imported into ``imported_dir()``."""
    root = imported_dir()
    return {p.parent.name: p.parent for p in sorted(root.glob("*/model.json"))} if root.is_dir() else {}


def resolve_run(run: str | Path) -> Path:
    """A run directory as given, else the bundled or imported model of that name."""
    path = Path(run)
    if path.exists():
        return path
    named = {name: m.path for name, m in bundled_models().items()} | imported_runs()
    if str(run) in named:
        return named[str(run)]
    names = ", ".join(named) or "none installed"
    raise UserError(f"{run}: no such run directory or bundled model (bundled and imported: {names})")


def is_bundled(run: Path) -> bool:
    """Whether ``run`` is one of the checkpoints installed with the package (never written to)."""
    return run.resolve().is_relative_to(CHECKPOINTS.resolve())


def generators_from_meta(meta: dict[str, Any], source: str) -> nn.ModuleDict:
    """The generators described by a ``model.json`` (weights not loaded)."""
    name = meta.get("model")
    if name not in MODELS:
        raise UserError(f"{source}: unknown model type {name!r}")
    spec = MODELS[name]
    try:
        config = config_from_dict(spec.config_cls, meta.get("config", {}))
    except (TypeError, ValueError) as e:
        raise UserError(f"{source}: bad model config ({e})") from e
    return nn.ModuleDict(spec.generators(config))


def load_run(run: str | Path, models: tuple[str, ...]) -> tuple[dict[str, Any], nn.ModuleDict]:
    """``model.json`` and the generators with their weights, for a run (or bundled model name) of one
    of ``models``."""
    run = resolve_run(run)
    meta, tensors = load_inference(run)
    if meta.get("model") not in models:
        raise UserError(f"{run}: is a {meta.get('model')} model; this command needs one of {', '.join(models)}")
    generators = generators_from_meta(meta, str(run / "model.json"))
    try:
        generators.load_state_dict(tensors)
    except RuntimeError as e:
        raise UserError(f"{run / 'model.safetensors'}: weights do not match model.json ({e})") from e
    return meta, generators
