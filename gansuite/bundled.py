"""Checkpoints that ship with gansuite (``gansuite/checkpoints/NAME``): every RUN argument also
accepts their NAME. They are trained on the bundled samples by ``python -m apps.train_bundled``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core_gan.errors import UserError

CHECKPOINTS = Path(__file__).with_name("checkpoints")


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


def resolve_run(run: str | Path) -> Path:
    """A run directory as given, else the bundled or imported model of that name."""
    from gansuite.weights import imported_runs

    path = Path(run)
    if path.exists():
        return path
    named = {name: m.path for name, m in bundled_models().items()} | imported_runs()
    if str(run) in named:
        return named[str(run)]
    names = ", ".join(named) or "none installed"
    raise UserError(f"{run}: no such run directory or bundled model (bundled and imported: {names})")
