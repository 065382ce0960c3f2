"""What the trainer's machinery costs: images/s of DCGAN steps in a bare loop vs in Trainer.fit.

The bare loop does only the D and G updates; Trainer.fit adds grad-norm logging, EMA of G, loss
logging every --log-every steps, sample grids every --sample-every and atomic checkpoints, and the
diagnostics (D's outputs and r_t every step, the samples' diversity with every grid, the detectors with
every row), also timed with them switched off.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common import append_results
from core_gan.data.digits import digits_dataset
from core_gan.data.stream import batch_stream
from core_gan.gans import gan
from core_gan.gans.gan import GANGame, GANObjective
from core_gan.models.dcgan import DCGANConfig
from core_gan.trainer import TrainConfig, Trainer
from gansuite.registry import build

NET = DCGANConfig(image_size=32, channels=1, latent_dim=100, ngf=64, ndf=64)


def objective() -> GANObjective:
    torch.manual_seed(0)
    G, D = build("dcgan", NET)
    return GANObjective(G["G"], D["D"], GANGame("nonsaturating"))


@contextlib.contextmanager
def without_diagnostics() -> Iterator[None]:
    """The objective computes no diag/ figures (critic scores, sample diversity)."""
    saved = gan.critic_scores, GANObjective.sample_diagnostics
    gan.critic_scores = lambda *_: {}
    GANObjective.sample_diagnostics = lambda *_: {}
    try:
        yield
    finally:
        gan.critic_scores, GANObjective.sample_diagnostics = saved


def bare_loop(steps: int, batch_size: int) -> float:
    obj = objective()
    opt_g = torch.optim.Adam(obj.G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(obj.D.parameters(), 2e-4, betas=(0.5, 0.999))
    stream = batch_stream(digits_dataset(32), batch_size)
    t0 = time.perf_counter()
    for _ in range(steps):
        batch = next(stream)
        opt_d.zero_grad()
        obj.d_loss(batch)["total"].backward()
        opt_d.step()
        opt_g.zero_grad()
        obj.g_loss(batch)["total"].backward()
        opt_g.step()
    return steps * batch_size / (time.perf_counter() - t0)


def trainer_loop(steps: int, config: TrainConfig, out: Path) -> float:
    trainer = Trainer(objective(), digits_dataset(32), out, replace(config, steps=steps), {"model": "dcgan"})
    t0 = time.perf_counter()
    trainer.fit()
    return steps * config.batch_size / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    config = TrainConfig(
        batch_size=a.batch_size, device="cpu", ema=0.999, log_every=50, sample_every=100, checkpoint_every=100
    )
    bare, plain, full = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeats):
            with without_diagnostics():
                bare.append(bare_loop(a.steps, a.batch_size))
                plain.append(trainer_loop(a.steps, config, Path(tmp) / f"plain{i}"))
            full.append(trainer_loop(a.steps, config, Path(tmp) / f"run{i}"))
            print(f"repeat {i}: bare {bare[-1]:.1f}, trainer without diagnostics {plain[-1]:.1f}, "
                  f"trainer {full[-1]:.1f} img/s")  # fmt: skip
    best_bare, best_plain, best_full = max(bare), max(plain), max(full)
    append_results(
        "Trainer overhead: DCGAN 32 px on digits, CPU",
        [
            {"loop": "bare (D and G updates only)", "images/s (best of repeats)": f"{best_bare:.1f}"},
            {
                "loop": "Trainer.fit (grad norms, EMA, logs, samples, checkpoints)",
                "images/s (best of repeats)": f"{best_full:.1f}",
            },
            {"loop": "Trainer.fit without the diagnostics", "images/s (best of repeats)": f"{best_plain:.1f}"},
            {"loop": "machinery cost", "images/s (best of repeats)": f"{(1 - best_full / best_bare):.1%}"},
            {"loop": "of which diagnostics", "images/s (best of repeats)": f"{(1 - best_full / best_plain):.1%}"},
        ],
        notes=f"{a.steps} steps, batch {a.batch_size}, log every 50, samples and checkpoints every 100 steps",
    )


if __name__ == "__main__":
    main()
