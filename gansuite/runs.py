"""Runs by name or path, in one place: the checkpoints that ship with gansuite
(``gansuite/checkpoints/NAME``, trained by ``python -m recipes.bundled``), the imported ones
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
from gansuite.registry import MODELS, models_of

CHECKPOINTS = Path(__file__).with_name("checkpoints")
BASE_MODELS = models_of("unconditional", "class-conditional")
SR_MODELS = models_of("sr")
TRANSLATION_MODELS = models_of("paired", "unpaired")


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


def run_model(run: str | Path) -> str | None:
    """The ``model`` a run's model.json names (None where there is no such run or file)."""
    try:
        meta_path = resolve_run(run) / "model.json"
    except UserError:
        return None
    return json.loads(meta_path.read_text()).get("model") if meta_path.is_file() else None


def data_kind(meta: dict[str, Any]) -> str | None:
    """What the model of a ``model.json`` trains on (core_gan.method.DataKind); None for a network of
    another library (spandrel)."""
    spec = MODELS.get(meta.get("model", ""))
    return spec.data if spec is not None else None


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


def directions(meta: dict[str, Any]) -> list[str]:
    """Where a translation run goes: a one-generator model the direction it was trained in; a model
    with a generator per direction (CycleGAN) the directions whose generator it holds (an imported zoo
    model holds one)."""
    exports = MODELS[meta["model"]].exports
    if len(exports) == 1:
        return [meta.get("direction", next(iter(exports)))]
    held = meta.get("generators", list(exports.values()))
    return [d for d, g in exports.items() if g in held]


def translation_generator(meta: dict[str, Any], direction: str | None, run: str | Path) -> tuple[str, str]:
    """(direction, the generator's name) for ``--direction`` (None: the run's first direction)."""
    available = directions(meta)
    chosen = direction or available[0]
    exports = MODELS[meta["model"]].exports
    if chosen not in available:
        what = "was trained" if len(exports) == 1 else "holds only the generator for"
        raise UserError(f"--direction {chosen}: {run} {what} {available[0]}")
    return chosen, exports[chosen] if len(exports) > 1 else next(iter(exports.values()))


def domains(run: Path, meta: dict[str, Any]) -> tuple[str, str]:
    """The names of a translation run's domains A and B: from model.json (imported runs), else
    training.json (bundled runs), else "A" and "B"."""
    training = run / "training.json"
    names = meta.get("domains") or (json.loads(training.read_text()).get("domains") if training.is_file() else None)
    return tuple(names) if names else ("A", "B")


def load_run(run: str | Path, models: tuple[str, ...]) -> tuple[dict[str, Any], nn.ModuleDict]:
    """``model.json`` and the generators with their weights, for a run (or bundled model name) of one
    of ``models``."""
    run = resolve_run(run)
    meta, tensors = load_inference(run)
    if meta.get("model") not in models:
        raise UserError(f"{run}: is a {meta.get('model')} model; this command needs one of {', '.join(models)}")
    generators = generators_from_meta(meta, str(run / "model.json"))
    if "generators" in meta:  # a run holding only some of its model's generators (an imported one)
        generators = nn.ModuleDict({name: generators[name] for name in meta["generators"] if name in generators})
    try:
        generators.load_state_dict(tensors)
    except RuntimeError as e:
        raise UserError(f"{run / 'model.safetensors'}: weights do not match model.json ({e})") from e
    return meta, generators
