"""pix2pix and CycleGAN training steps: the reference implementation's own code against gansuite's, on
the same data and thread count, interleaved rounds in one process, paper settings (256 px, batch 1,
U-Net / ResNet-9 generators, batch / instance norm, LSGAN for CycleGAN, vanilla GAN + 100 L1 for pix2pix).

    python -m benchmarks.bench_reference --reference-code DIR [--model pix2pix|cyclegan] [--rounds 3] \\
        [--steps 5] [--precision fp32|bf16|auto] [--compile] [--record]

DIR is a checkout of the reference pix2pix/CycleGAN repository (``fetch zenml-io/pytorch-CycleGAN-and-pix2pix``);
its ``models.create_model`` and ``optimize_parameters`` are timed as its train.py runs them on the CPU
(``--gpu_ids -1``). Ours: ``Trainer.train_step`` as ``gansuite train`` runs it. The parameter counts
are printed side by side: the networks are the same.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import append_results
from core_gan.data.stream import batch_stream
from core_gan.device import auto_precision
from core_gan.trainer import TrainConfig, Trainer
from gansuite.registry import build
from translation.cyclegan import CycleGANConfig, CycleGANLoss, CycleGANObjective
from translation.pix2pix import Pix2PixConfig, Pix2PixLoss, Pix2PixObjective

REFERENCE_FLAGS = {
    "pix2pix": ["--model", "pix2pix", "--netG", "unet_256", "--norm", "batch", "--gan_mode", "vanilla"],
    "cyclegan": ["--model", "cycle_gan", "--netG", "resnet_9blocks", "--norm", "instance", "--gan_mode", "lsgan"],
}


def reference_step(code: Path, model: str, a: torch.Tensor, b: torch.Tensor):
    """The reference model built from its own options, and a function running one of its training steps."""
    sys.path.insert(0, str(code))
    from models import create_model
    from options.train_options import TrainOptions

    own_argv = sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        sys.argv = ["train.py", "--dataroot", tmp, "--checkpoints_dir", tmp, "--gpu_ids", "-1",
                    "--display_id", "0", *REFERENCE_FLAGS[model]]  # fmt: skip
        try:
            opt = TrainOptions().parse()  # its options come from the command line only
        finally:
            sys.argv = own_argv
        reference = create_model(opt)
        reference.setup(opt)
    batch = {"A": a, "B": b, "A_paths": ["a.png"], "B_paths": ["b.png"]}

    def step() -> None:
        reference.set_input(batch)
        reference.optimize_parameters()

    networks = [getattr(reference, f"net{name}") for name in reference.model_names]
    return step, sum(p.numel() for net in networks for p in net.parameters())


def our_step(model: str, a: torch.Tensor, b: torch.Tensor, precision: str, compile: bool):
    """Our trainer on the same two images, and a function running one of its steps."""
    if model == "pix2pix":
        gens, discs = build("pix2pix", Pix2PixConfig())
        objective = Pix2PixObjective(gens["G"], discs["D"], Pix2PixLoss(), (a, b))
    else:
        gens, discs = build("cyclegan", CycleGANConfig())
        objective = CycleGANObjective(dict(gens.items()), dict(discs.items()), CycleGANLoss(), (a, b))
    data = torch.utils.data.TensorDataset(a, b)
    config = TrainConfig(batch_size=1, device="cpu", precision=precision, compile=compile)
    trainer = Trainer(objective, data, tempfile.mkdtemp(prefix="bench_reference_"), config, {"model": model})
    stream = batch_stream(data, 1)
    parameters = sum(p.numel() for net in [*gens.values(), *discs.values()] for p in net.parameters())
    return (lambda: trainer.train_step(stream)), parameters


def ms_per_step(step, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference-code", type=Path, required=True)
    p.add_argument("--model", default="pix2pix", choices=tuple(REFERENCE_FLAGS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", default="auto", choices=("fp32", "bf16", "auto"))
    p.add_argument("--compile", action="store_true")
    p.add_argument("--record", action="store_true")
    args = p.parse_args()
    precision = auto_precision(torch.device("cpu")) if args.precision == "auto" else args.precision
    torch.manual_seed(0)
    a, b = torch.rand(2, 1, 3, 256, 256) * 2 - 1
    steps = {"reference code": reference_step(args.reference_code, args.model, a, b),
             "gansuite": our_step(args.model, a, b, precision, args.compile)}  # fmt: skip
    for step, _ in steps.values():
        for _ in range(args.warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, (step, _) in steps.items():
            times[name].append(ms_per_step(step, args.steps))
    reference_ms = statistics.median(times["reference code"])
    rows = [{"code": name, "precision": "fp32" if name == "reference code" else precision,
             "compile": args.compile and name == "gansuite", "parameters": f"{parameters:,}",
             "ms/step (median of rounds)": round(statistics.median(times[name]), 1),
             "rounds": ", ".join(f"{t:.0f}" for t in times[name]),
             "speed-up": f"{reference_ms / statistics.median(times[name]):.2f}x"}
            for name, (_, parameters) in steps.items()]  # fmt: skip
    for row in rows:
        print(row)
    if args.record:
        notes = (f"{args.rounds} interleaved rounds of {args.steps} steps after {args.warmup} warm-up steps each; "
                 f"{torch.get_num_threads()} threads; the reference code's own optimize_parameters")  # fmt: skip
        append_results(f"Training step against the reference code: {args.model} 256 px batch 1", rows, notes=notes)


if __name__ == "__main__":
    main()
