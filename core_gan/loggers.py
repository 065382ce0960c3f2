"""What users watch a run with, mirroring ``metrics.jsonl`` (which stays the source of truth):
TensorBoard event files in ``RUN/tb`` laid out as BasicSR and stylegan2-ada lay theirs out, and,
with ``--logger wandb``, Weights & Biases syncing those same events (as BasicSR does).

    tensorboard --logdir runs/
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core_gan.errors import UserError

LoggerName = Literal["none", "tensorboard", "wandb"]
TIME_KEYS = ("time", "images_per_s", "step_s", "peak_memory_gb")


def tag(key: str) -> str:
    """A ``metrics.jsonl`` key -> its TensorBoard tag: evaluations under ``metric/``, the learning rate
    under ``lr/``, speed and memory under ``time/``, gradient norms and diagnostics under ``diag/``,
    the losses (``D/adv``, ``G/l1``, ...) under ``loss/``."""
    if key.startswith("eval/"):
        return "metric/" + key.removeprefix("eval/")
    if key == "lr":
        return "lr/G"
    if key.startswith("lr/"):
        return key
    if key in TIME_KEYS:
        return "time/" + ("elapsed_s" if key == "time" else key)
    if key.startswith(("grad_norm/", "diag/")):
        return "diag/" + key.removeprefix("diag/")
    return "loss/" + key


class TensorBoard:
    """Scalars and sample grids as TensorBoard events in ``root/tb``; with ``wandb``, also synced to a
    W&B run. ``purge_step``: on resume, events logged after the checkpoint's step are dropped."""

    def __init__(self, root: Path, purge_step: int | None = None, wandb: bool = False) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if wandb:
            import wandb as wb

            wb.init(dir=str(root), name=root.name, sync_tensorboard=True, resume="allow")
        self.writer = SummaryWriter(log_dir=str(root / "tb"), purge_step=purge_step)

    def scalars(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(tag(key), value, row["step"])
        self.writer.flush()

    def image(self, name: str, image: np.ndarray, step: int) -> None:
        """A uint8 (H, W, 3) image, e.g. the sample grid of ``step``."""
        self.writer.add_image(name, image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def open_logger(name: LoggerName, root: Path, purge_step: int | None = None) -> TensorBoard | None:
    """The run's mirror for ``--logger name`` (None for ``none``)."""
    if name == "none":
        return None
    if name == "wandb" and importlib.util.find_spec("wandb") is None:
        raise UserError("--logger wandb: wandb is not installed (pip install wandb; then `wandb login`)")
    return TensorBoard(root, purge_step, wandb=name == "wandb")
