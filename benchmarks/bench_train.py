"""Training-step speed: ms/step, images/s and peak memory for one model at one size and precision.

    python -m benchmarks.bench_train --model pix2pix --size 256 --batch 1 --steps 20 --precision bf16 \\
        --channels-last [--compile] [--json] [--record]

Under ``torchrun --nproc_per_node=N -m benchmarks.bench_train`` it measures DDP: ``--batch`` per
process, images/s for the global batch. SR models: ``--size`` is the HR crop (x4 SRResNet, the paper's 96 px); srgan's
VGG54 content loss runs on random VGG weights here (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import append_results
from core_gan.data.stream import batch_stream
from core_gan.distributed import World, barrier, distributed_session
from core_gan.gans.gan import GANGame, GANObjective
from core_gan.models.dcgan import DCGANConfig
from core_gan.models.vgg import VGGFeatures
from core_gan.trainer import TrainConfig, Trainer
from gansuite.registry import MODELS as REGISTRY
from gansuite.registry import Parts, build
from translation.cyclegan import CycleGANObjective
from translation.pix2pix import Pix2PixConfig, Pix2PixLoss, Pix2PixObjective
from translation.srgan import ContentLoss, SRLoss, SRObjective, SRResNetConfig

MODELS = ("pix2pix", "cyclegan", "cut", "fastcut", "srresnet", "srgan", "dcgan")


def make_objective(model: str, size: int, batch: int):
    """An objective and a synthetic dataset of the right shapes (speed does not depend on the pixels)."""
    if model == "pix2pix":
        config = Pix2PixConfig(netG=f"unet_{size}")
        G, D = build("pix2pix", config)
        x = torch.rand(batch, 3, size, size) * 2 - 1
        return Pix2PixObjective(G["G"], D["D"], Pix2PixLoss(), (x, x)), torch.utils.data.TensorDataset(x, x)
    if REGISTRY[model].data == "unpaired":  # CycleGAN, CUT, FastCUT: the recipe's networks and loss
        spec = REGISTRY[model]
        gens, discs = build(model, spec.recipe.network)
        x = torch.rand(batch, 3, size, size) * 2 - 1
        objective = spec.objective(Parts(dict(gens), dict(discs), spec.recipe.loss, (x, x)))
        return objective, torch.utils.data.TensorDataset(x, x.flip(-1))
    if model in ("srresnet", "srgan"):
        G, D = build(model, SRResNetConfig())
        hr = torch.rand(batch, 3, size, size) * 2 - 1
        lr = torch.nn.functional.avg_pool2d(hr, 4)
        gan = model == "srgan"
        loss = SRLoss(content_loss="vgg54" if gan else "mse", adversarial_weight=1e-3 if gan else 0.0)
        content = ContentLoss(loss.content_loss, VGGFeatures("vgg54") if gan else None)
        objective = SRObjective(G["G"], D["D"] if gan else None, loss, content, (lr, hr))
        return objective, torch.utils.data.TensorDataset(lr, hr)
    if model == "dcgan":
        G, D = build("dcgan", DCGANConfig(image_size=size))
        x = torch.rand(batch * 2, 3, size, size) * 2 - 1
        data = torch.utils.data.TensorDataset(x, torch.zeros(len(x), dtype=torch.long))
        return GANObjective(G["G"], D["D"], GANGame("nonsaturating")), data
    raise SystemExit(f"unknown model {model}")


def current_memory_mb(device: torch.device) -> float:
    """Memory in use before the first step (networks, optimisers, data; on a CPU the process's resident
    size, the runtime included): the part of the peak that training steps do not add."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated() / 2**20
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="pix2pix", choices=MODELS)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1, help="time --steps this many times; report the median")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-fused", action="store_true", help="Adam's per-tensor loop, as the reference code runs it")
    p.add_argument(
        "--reference",
        action="store_true",
        help="the reference implementation's configuration: per-tensor Adam, the library's convolutions on "
        "small maps, CycleGAN's cycle and identity passes run separately, the C library's default allocator",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    p.add_argument("--peak-tflops", type=float, help="the device's dense peak for --precision (default: known GPUs)")
    a = p.parse_args()
    with distributed_session(a.device) as world:
        row = measure(a, world)
    if world.is_main:
        print(json.dumps(row) if a.json else row)
        if a.record:
            title = f"Training step: {a.model} {a.size}px batch {a.batch}" + (
                f" x {world.size} processes" if world.size > 1 else ""
            )
            append_results(title, [row])


# Dense tensor-core peaks (TFLOP/s) from the vendors' data sheets, SXM parts: for the utilisation figure.
PEAK_TFLOPS = {("H100", "bf16"): 989.0, ("H200", "bf16"): 989.0, ("A100", "bf16"): 312.0,
               ("H100", "fp32"): 67.0, ("H200", "fp32"): 67.0, ("A100", "fp32"): 19.5}  # fmt: skip


def peak_tflops(device: torch.device, precision: str, given: float | None) -> float | None:
    if given or device.type != "cuda":
        return given
    name = torch.cuda.get_device_name(device)
    return next((v for (gpu, prec), v in PEAK_TFLOPS.items() if gpu in name and prec == precision), None)


def measure(a: argparse.Namespace, world: World) -> dict[str, object]:
    torch.manual_seed(0)
    objective, data = make_objective(a.model, a.size, a.batch * world.size)
    fused = not (a.no_fused or a.reference)
    if a.reference and isinstance(objective, CycleGANObjective):
        objective.batch_cycle_and_identity = False
    config = TrainConfig(batch_size=a.batch, device=a.device, precision=a.precision, channels_last=a.channels_last,
                         compile=a.compile, fused_optimizer=fused, cpu_swaps=not a.reference)  # fmt: skip
    trainer = Trainer(objective, data, "/tmp/bench_train_unused", config, {"model": a.model})
    stream = batch_stream(data, a.batch, rank=world.rank, world_size=world.size)
    before_mb = current_memory_mb(trainer.device)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    t_warm = time.perf_counter()
    for _ in range(a.warmup):
        trainer.train_step(stream)
    with FlopCounterMode(display=False) as flops:  # one more step, counted: forward and backward
        trainer.train_step(stream)
    sync()
    barrier(world)
    warmup_s = time.perf_counter() - t_warm
    block_ms = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            losses = trainer.train_step(stream)
        sync()
        barrier(world)
        block_ms.append((time.perf_counter() - t0) / a.steps * 1000)
    ms = statistics.median(block_ms)
    assert all(torch.isfinite(v).all() for v in losses.values()), "non-finite loss"
    tflops = flops.get_total_flops() * world.size / (ms / 1000) / 1e12
    peak = peak_tflops(trainer.device, a.precision, a.peak_tflops)
    row = {
        "model": a.model, "size": a.size, "batch": a.batch, "processes": world.size, "device": str(trainer.device),
        "precision": a.precision, "channels_last": a.channels_last, "compile": a.compile,
        "fused Adam": fused, "reference layers": a.reference,
        "ms/step": round(ms, 1), "ms/step range": f"{min(block_ms):.0f}-{max(block_ms):.0f}",
        "images/s": round(a.batch * world.size * 1000 / ms, 2),
        "peak MB": round(peak_memory_mb(trainer.device)),
        "peak MB above the start": round(peak_memory_mb(trainer.device) - before_mb),
        "GFLOP/step": round(flops.get_total_flops() / 1e9, 1),
        "TFLOP/s": round(tflops, 3), "MFU %": round(100 * tflops / peak, 1) if peak else "-",
        "warmup s": round(warmup_s, 1),
    }  # fmt: skip
    return row


if __name__ == "__main__":
    main()
