"""Inference latency of one generator: PyTorch (fp32 or bf16 autocast, channels_last) vs onnxruntime.

    python -m benchmarks.bench_infer --model pix2pix --size 256 --batch 1 --runs 10 [--precision bf16] \\
        [--channels-last] [--backend torch|onnxruntime|both] [--json] [--record]

Networks at the papers' sizes with random weights (latency does not depend on the weights): pix2pix's
unet_256 (ngf 64), CycleGAN's resnet_9blocks, SRResNet x4 and RRDBNet x4 (23 blocks); ``--size`` is the
input side (SR outputs are 4x larger).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch

from benchmarks.bench_train import peak_memory_mb
from benchmarks.common import append_results
from gansuite.export import ExportTarget, OnnxGenerator, export_onnx
from gansuite.registry import build
from translation.cyclegan import CycleGANConfig
from translation.esrgan import RRDBNet, RRDBNetConfig
from translation.pix2pix import Pix2PixConfig
from translation.srgan import SRResNetConfig


def target(model: str) -> ExportTarget:
    if model == "pix2pix":
        config, G = Pix2PixConfig(), build("pix2pix", Pix2PixConfig())[0]["G"]
    elif model == "cyclegan":
        config, G = CycleGANConfig(), build("cyclegan", CycleGANConfig())[0]["G_AB"]
    elif model == "srresnet":
        config, G = SRResNetConfig(), build("srresnet", SRResNetConfig())[0]["G"]
    else:
        config = RRDBNetConfig()
        G = RRDBNet(config)
    return ExportTarget({"model": model, "config": asdict(config)}, "G", G.eval(), ("image",))


def latencies(run, x: torch.Tensor, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def torch_runner(G: torch.nn.Module, precision: str, channels_last: bool):
    if channels_last:
        G = G.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), autocast:
            return G(x.contiguous(memory_format=torch.channels_last) if channels_last else x).float()

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="pix2pix", choices=("pix2pix", "cyclegan", "srresnet", "esrgan"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="PyTorch only")
    p.add_argument("--channels-last", action="store_true", help="PyTorch only")
    p.add_argument("--backend", default="both", choices=("torch", "onnxruntime", "both"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    a = p.parse_args()
    torch.manual_seed(0)
    t = target(a.model)
    x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1
    rows = []
    backends = ("torch", "onnxruntime") if a.backend == "both" else (a.backend,)
    for backend in backends:
        if backend == "torch":
            run, label = torch_runner(t.module, a.precision, a.channels_last), f"torch {a.precision}"
            label += " channels_last" if a.channels_last else ""
        else:
            path = Path(tempfile.mkdtemp()) / "g.onnx"
            export_onnx(t, path)
            run, label = OnnxGenerator(path, t.input_names), "onnxruntime fp32"
        times = latencies(run, x, a.warmup, a.runs)
        rows.append({
            "model": a.model, "input": f"{a.batch}x{a.size}x{a.size}", "backend": label,
            "ms/batch p50": round(statistics.median(times), 1), "ms/batch min": round(min(times), 1),
            "images/s": round(a.batch * 1000 / statistics.median(times), 2),
            "peak MB (process)": round(peak_memory_mb(torch.device("cpu"))),
        })  # fmt: skip
        print(json.dumps(rows[-1]) if a.json else rows[-1])
    if a.record:
        append_results(f"Inference: {a.model} {a.size}px batch {a.batch}, CPU", rows)


if __name__ == "__main__":
    main()
