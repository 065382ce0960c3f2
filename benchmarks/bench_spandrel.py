"""Community super-resolution models through spandrel: parity with spandrel's own forward and upscale
time at 256x256 on this machine, per architecture, at the sizes published models have.

    python -m benchmarks.bench_spandrel [--runs 3] [--record]

Random weights built by spandrel's own classes (time does not depend on the weights): RealESRGAN
Compact as realesr-general-x4v3 (64 features, 32 convolutions), SPAN as 4xNomos8kSC_SPAN (48
channels) and lightweight SwinIR x4 (60 dims, 4 x 6 blocks, window 8). Each is saved as a .pth file
and upscaled by ``Upscaler(FILE)`` as ``gansuite upscale FILE`` does (tiles of 512: one tile at 256).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import spandrel
import torch
from PIL import Image
from spandrel.architectures.Compact import Compact
from spandrel.architectures.SPAN import SPAN
from spandrel.architectures.SwinIR import SwinIR

from apps.common import UNSEEN_PHOTOS
from benchmarks.common import append_results
from gansuite.inference import Upscaler

ARCHITECTURES = {
    "RealESRGAN Compact (realesr-general-x4v3 size)": lambda: Compact(num_feat=64, num_conv=32, upscale=4),
    "SPAN (4xNomos8kSC_SPAN size)": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=48, upscale=4),
    "SwinIR lightweight x4": lambda: SwinIR(img_size=64, embed_dim=60, depths=[6, 6, 6, 6], num_heads=[6, 6, 6, 6],
                                            window_size=8, mlp_ratio=2.0, upsampler="pixelshuffledirect", upscale=4),
}  # fmt: skip


def photo(side: int = 256) -> np.ndarray:
    with Image.open(UNSEEN_PHOTOS / "coffee.jpg") as im:
        return np.asarray(im.convert("RGB").resize((side, side), Image.Resampling.LANCZOS))


def measure(name: str, runs: int) -> dict[str, object]:
    torch.manual_seed(0)
    state = ARCHITECTURES[name]().state_dict()
    image = photo()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pth"
        torch.save(state, path)
        t = time.perf_counter()
        model = Upscaler(path)
        load = time.perf_counter() - t
    own = spandrel.ModelLoader().load_from_state_dict(state).eval()
    x = torch.from_numpy(image[:64, :64].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        parity = (model.network(x) - own(x)).abs().max().item()
    model(image[:64, :64], tile=0)  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        whole = model(image, tile=0)
        times.append(time.perf_counter() - t)
    tiled = model(image, tile=96, overlap=16)
    return {
        "architecture": name,
        "parameters": f"{sum(p.numel() for p in own.model.parameters()):,}",
        "max abs diff vs spandrel's forward (64 px, [0, 1])": f"{parity:.1e}",
        "tiled (96 px, overlap 16) vs whole, grey levels": int(np.abs(tiled.astype(int) - whole.astype(int)).max()),
        "load s": f"{load:.2f}",
        "256 -> 1024 upscale s (median)": f"{statistics.median(times):.2f}",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    rows = []
    for name in ARCHITECTURES:
        rows.append(measure(name, a.runs))
        print(rows[-1], flush=True)
    if a.record:
        notes = f"fp32 on the CPU, {torch.get_num_threads()} threads; median of {a.runs} runs"
        append_results("Community SR models through spandrel: parity and 256 px upscale time", rows, notes=notes)


if __name__ == "__main__":
    main()
