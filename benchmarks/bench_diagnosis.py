"""Each failure detector of core_gan.diagnosis on a tiny run that provokes its failure and on one that
does not, and what `gansuite diagnose` says of each.

    python -m benchmarks.bench_diagnosis [--record]

- D overpowering G: the ring8 MLP GAN with D's learning rate x100 (--lr-d 0.1) vs the recipe's (both
  without EMA: at 400 steps the EMA of G is still near its start, one blob, which the detector reports).
- Mode collapse: the same GAN with G frozen to a constant (its last layer's weights zeroed, no gradient)
  vs the recipe's.
- Identity collapse: a tiny CycleGAN between colour fields and negatives of others, with its generators
  frozen to the identity, and with --lambda-identity 100 (G is paid to return its input), vs
  --lambda-identity 0.
- Divergence: the ring8 GAN with a NaN injected into G's loss at step 150 vs none (and with
  --anomaly-retries 1, which recovers from it).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.common import append_results
from core_gan.diagnosis import diagnose, read_rows
from core_gan.gans.gan import GANObjective
from core_gan.models.translators import ResNetGenerator
from gansuite.cli import main as cli

TOY = ["--data", "ring8", "--steps", "400", "--batch-size", "128", "--log-every", "20", "--sample-every", "20",
       "--checkpoint-every", "100", "--logger", "none", "--ema", "0"]  # fmt: skip


@contextlib.contextmanager
def constant_generator() -> Iterator[None]:
    """G's last layer zeroed and frozen when the objective is built: G(z) is its bias for every z."""
    original = GANObjective.__init__

    def frozen(self, G, *args, **kwargs):
        last = [m for m in G.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            last.weight.zero_()
        last.weight.requires_grad_(False)
        original(self, G, *args, **kwargs)

    GANObjective.__init__ = frozen
    try:
        yield
    finally:
        GANObjective.__init__ = original


@contextlib.contextmanager
def nan_at(step: int) -> Iterator[None]:
    """G's loss becomes NaN at the given step (counting G's updates of this process)."""
    original, calls = GANObjective.g_loss, [0]

    def poisoned(self, batch):
        losses = original(self, batch)
        calls[0] += 1
        if calls[0] == step:
            losses["total"] = losses["total"] * float("nan")
        return losses

    GANObjective.g_loss = poisoned
    try:
        yield
    finally:
        GANObjective.g_loss = original


@contextlib.contextmanager
def identity_generators() -> Iterator[None]:
    """Every ResNet generator returns its input (its parameters get a zero gradient)."""
    original = ResNetGenerator.forward

    def identity(self, x, layers=()):
        return x + 0 * self.net[1].weight.sum() if not layers else original(self, x, layers)

    ResNetGenerator.forward = identity
    try:
        yield
    finally:
        ResNetGenerator.forward = original


def negatives(root: Path, n: int = 24, size: int = 32) -> None:
    """trainA: smooth random colour fields; trainB: colour negatives of other such fields."""
    rng = np.random.default_rng(0)
    for side in ("trainA", "trainB"):
        (root / side).mkdir(parents=True)
        for i in range(n):
            small = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
            image = np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC))
            Image.fromarray(255 - image if side == "trainB" else image).save(root / side / f"{i}.png")


def verdict_of(run: Path, failure: str) -> str:
    rows, _ = read_rows(run / "metrics.jsonl")
    return next(v.line() for v in diagnose(rows) if v.failure == failure)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        negatives(root / "negatives")
        cyclegan = ["--data", str(root / "negatives"), "--netG", "resnet_1blocks", "--ngf", "8", "--ndf", "8",
                    "--crop-size", "32", "--load-size", "32", "--norm", "none", "--steps", "600", "--log-every", "20",
                    "--sample-every", "100", "--checkpoint-every", "600", "--logger", "none"]  # fmt: skip
        cases = [
            ("D overpowering G", "D's lr x100 (--lr-d 0.1)", ["train", "gan", *TOY, "--lr-d", "0.1"], None,
             "the recipe", ["train", "gan", *TOY]),
            ("mode collapse", "G frozen to a constant", ["train", "gan", *TOY], constant_generator,
             "the recipe", ["train", "gan", *TOY]),
            ("identity collapse", "CycleGAN, G frozen to the identity", ["train", "cyclegan", *cyclegan],
             identity_generators, "--lambda-identity 0", ["train", "cyclegan", *cyclegan, "--lambda-identity", "0"]),
            ("identity collapse", "CycleGAN, --lambda-identity 100", ["train", "cyclegan", *cyclegan,
             "--lambda-identity", "100"], None, "--lambda-identity 0", ["train", "cyclegan", *cyclegan,
             "--lambda-identity", "0"]),
            ("divergence", "a NaN in G's loss at step 150", ["train", "gan", *TOY], lambda: nan_at(150),
             "none injected", ["train", "gan", *TOY]),
            ("divergence", "the NaN, with --anomaly-retries 1", ["train", "gan", *TOY, "--anomaly-retries", "1"],
             lambda: nan_at(150), "none injected", ["train", "gan", *TOY]),
        ]  # fmt: skip
        for i, (failure, provoked, args, patch, control, control_args) in enumerate(cases):
            runs = []
            for j, (command, context) in enumerate(((args, patch), (control_args, None))):
                out = root / f"run{i}_{j}"
                with context() if context else contextlib.nullcontext():
                    code = cli([*command, "--out", str(out)])
                runs.append(verdict_of(out, failure) + ("" if code == 0 else f" (training exit {code})"))
            row = {"detector": failure, "provoked by": provoked, "diagnose said": runs[0],
                   "control": control, "diagnose said of the control": runs[1]}  # fmt: skip
            table.append(row)
            print(row)
    if a.record:
        append_results("Diagnostics: each detector on a run that provokes its failure and on one that does not",
                       table, notes="tiny runs: the ring8 MLP GAN (400 steps, batch 128), a 32 px CycleGAN "
                       "between colour fields and their negatives (600 steps)")  # fmt: skip


if __name__ == "__main__":
    main()
