"""Training-step speed: ms/step, images/s and peak memory for one model at one size and precision.

    python benchmarks/bench_train.py --model pix2pix --size 256 --batch 1 --steps 20 --precision bf16 \\
        --channels-last [--compile] [--json] [--record]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from benchmarks.common import append_results
from core_gan.data.stream import batch_stream
from core_gan.models.dcgan import DCGANConfig
from core_gan.objective import AdversarialConfig, BaseGANObjective
from core_gan.trainer import TrainConfig, Trainer
from gansuite.registry import build
from translation.cyclegan import CycleGANConfig, CycleGANLoss, CycleGANObjective
from translation.pix2pix import Pix2PixConfig, Pix2PixLoss, Pix2PixObjective


def make_objective(model: str, size: int, batch: int):
    """An objective and a synthetic dataset of the right shapes (speed does not depend on the pixels)."""
    if model == "pix2pix":
        config = Pix2PixConfig(netG=f"unet_{size}")
        G, D = build("pix2pix", config)
        x = torch.rand(batch, 3, size, size) * 2 - 1
        return Pix2PixObjective(G["G"], D["D"], Pix2PixLoss(), (x, x)), torch.utils.data.TensorDataset(x, x)
    if model == "cyclegan":
        gens, discs = build("cyclegan", CycleGANConfig())
        x = torch.rand(batch, 3, size, size) * 2 - 1
        objective = CycleGANObjective(dict(gens.items()), dict(discs.items()), CycleGANLoss(), (x, x))
        return objective, torch.utils.data.TensorDataset(x, x)
    if model == "dcgan":
        G, D = build("dcgan", DCGANConfig(image_size=size))
        x = torch.rand(batch * 2, 3, size, size) * 2 - 1
        data = torch.utils.data.TensorDataset(x, torch.zeros(len(x), dtype=torch.long))
        return BaseGANObjective(G["G"], D["D"], AdversarialConfig()), data
    raise SystemExit(f"unknown model {model}")


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="pix2pix", choices=("pix2pix", "cyclegan", "dcgan"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-fused", action="store_true", help="Adam's per-tensor loop, as the reference code runs it")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    a = p.parse_args()
    torch.manual_seed(0)
    objective, data = make_objective(a.model, a.size, a.batch)
    config = TrainConfig(batch_size=a.batch, device=a.device, precision=a.precision,
                         channels_last=a.channels_last, compile=a.compile, fused_optimizer=not a.no_fused)  # fmt: skip
    trainer = Trainer(objective, data, "/tmp/bench_train_unused", config, {"model": a.model})
    stream = batch_stream(data, a.batch)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    t_warm = time.perf_counter()
    for _ in range(a.warmup):
        trainer.train_step(stream)
    sync()
    warmup_s = time.perf_counter() - t_warm
    t0 = time.perf_counter()
    for _ in range(a.steps):
        losses = trainer.train_step(stream)
    sync()
    ms = (time.perf_counter() - t0) / a.steps * 1000
    assert all(torch.isfinite(v).all() for v in losses.values()), "non-finite loss"
    row = {
        "model": a.model, "size": a.size, "batch": a.batch, "device": str(trainer.device), "precision": a.precision,
        "channels_last": a.channels_last, "compile": a.compile, "fused Adam": not a.no_fused, "ms/step": round(ms, 1),
        "images/s": round(a.batch * 1000 / ms, 2), "peak MB": round(peak_memory_mb(trainer.device)),
        "warmup s": round(warmup_s, 1),
    }  # fmt: skip
    print(json.dumps(row) if a.json else row)
    if a.record:
        append_results(f"Training step: {a.model} {a.size}px batch {a.batch}", [row])


if __name__ == "__main__":
    main()
