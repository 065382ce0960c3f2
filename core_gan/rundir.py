"""A run directory's files (SPEC.md): ``config.json``, ``metrics.jsonl``, ``losses.png``,
``samples/``, ``checkpoints/`` and the inference weights. The trainer decides what to write and
when; this module is where and how, each file written by one function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core_gan.checkpoint import atomic_link, load_checkpoint, save_checkpoint, save_inference, write_json
from core_gan.errors import UserError
from core_gan.loggers import LoggerName, TensorBoard, open_logger


class RunDirectory:
    """The files of one training run under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.logger: TensorBoard | None = None
        """A mirror of metrics.jsonl and the sample grids (:mod:`core_gan.loggers`), once opened."""

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.root / "checkpoints" / "best.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    def sample_path(self, step: int) -> Path:
        return self.root / "samples" / f"step_{step:07d}.png"

    def check(self, resume: bool) -> None:
        """``--resume`` needs a checkpoint; a fresh run goes into a new or empty folder (it must not
        overwrite a run, nor any file a user keeps there)."""
        if resume and not self.last.is_file():
            raise UserError(f"--resume: {self.last} does not exist; nothing to resume")
        if not resume and self.last.exists():
            raise UserError(f"{self.root}: already holds a run; pass --resume or choose another --out")
        if not resume and self.root.is_dir() and any(self.root.iterdir()):
            raise UserError(f"--out {self.root}: holds files already; a run goes into a new or empty folder")

    def create(self) -> None:
        """The folders, and no partial checkpoint left by a process killed mid-write."""
        for stale in self.last.parent.glob(".*.tmp"):
            stale.unlink()
        try:
            (self.root / "samples").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{self.root}: cannot create the run directory ({e.strerror})") from e

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.root / "config.json", config)

    def open_logger(self, name: LoggerName, resume_step: int | None) -> None:
        self.logger = open_logger(name, self.root, resume_step)

    def close_logger(self) -> None:
        if self.logger is not None:
            self.logger.close()
            self.logger = None

    def log(self, row: dict[str, Any]) -> None:
        """Append one row to ``metrics.jsonl`` (losses, evaluations and events alike), and mirror it."""
        with open(self.metrics, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.logger is not None:
            self.logger.scalars(row)

    def plot_losses(self) -> None:
        """``losses.png`` from the rows logged so far (nothing before the first row)."""
        from core_gan.plots import plot_losses

        if self.metrics.is_file():
            plot_losses(self.metrics, self.root / "losses.png")

    def save(self, state: dict[str, Any], step: int, keep: int) -> None:
        """``last.pt``; with ``keep`` K, also ``step_NNNNNNN.pt``, of which the newest K are kept."""
        if not keep:
            save_checkpoint(self.last, state)
            return
        numbered = self.last.with_name(f"step_{step:07d}.pt")
        save_checkpoint(numbered, state)
        atomic_link(numbered, self.last)
        for old in sorted(self.last.parent.glob("step_*.pt"))[:-keep]:
            old.unlink()

    def save_best(self, state: dict[str, Any]) -> None:
        save_checkpoint(self.best, state)

    def export(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any], folder: str = "") -> None:
        """``model.safetensors`` + ``model.json`` in the run (or its sub-folder ``folder``, e.g. ``best``)."""
        save_inference(self.root / folder if folder else self.root, tensors, meta)

    def load_last(self) -> dict[str, Any]:
        return load_checkpoint(self.last)

    def best_value(self, metric: str) -> float | None:
        return float(load_checkpoint(self.best)["best"][metric]) if self.best.is_file() else None

    def last_step(self) -> int:
        """The step of ``last.pt``, 0 when there is none."""
        return int(load_checkpoint(self.last, mmap=True)["step"]) if self.last.is_file() else 0
