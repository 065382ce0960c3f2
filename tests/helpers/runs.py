"""What several tests share: random unpaired folders, and a run trained in one go beside the same run
interrupted at half and resumed (the bitwise-resume tests of each objective)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core_gan.trainer import Trainer


def unpaired_images(root: Path, n: int, size: int) -> None:
    """``n`` random ``size`` px RGB images in each of root/trainA, trainB, testA and testB."""
    rng = np.random.default_rng(0)
    for side in ("trainA", "trainB", "testA", "testB"):
        (root / side).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (size, size, 3)).astype(np.uint8)).save(root / side / f"{i}.png")


def full_and_resumed(trainer: Callable[[str, int], Trainer], steps: int = 6) -> tuple[Trainer, Trainer]:
    """``trainer(run, steps)`` makes a fresh Trainer writing run directory ``run``: "full" trains ``steps``
    in one go; "part" trains half of them, then a new trainer resumes it to ``steps``."""
    full = trainer("full", steps)
    full.fit()
    trainer("part", steps // 2).fit()
    resumed = trainer("part", steps)
    resumed.fit(resume=True)
    return full, resumed


def assert_same_networks(a: Trainer, b: Trainer, parts: tuple[str, ...] = ("generators", "discriminators")) -> None:
    for name in parts:
        x, y = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert x.keys() == y.keys() and len(x) > 0, name
        assert all(torch.equal(x[k], y[k]) for k in x), name
