"""x4 upscaling speed and peak memory: a 256x256 input (-> 1024x1024) and a 2000x2000 input, tiled.

Each case runs in a fresh Python process, so its peak resident memory (ru_maxrss) is its own; times
are the median of ``--repeats`` calls after one warm-up call (the 2000 px case: one call).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import append_results

ROOT = Path(__file__).resolve().parents[1]
ALL_CASES = ((256, 0), (256, 512), (2000, 512), (2000, 256))


def one_case(run: str, size: int, tile: int, repeats: int, device: str) -> dict[str, float]:
    import resource

    import numpy as np
    import torch

    from gansuite.inference import Upscaler

    model = Upscaler(run, device)
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3)).astype(np.uint8)
    times = []
    for _ in range(repeats + (1 if repeats > 1 else 0)):
        t0 = time.perf_counter()
        out = model(image, tile=tile)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    assert out.shape == (size * model.scale, size * model.scale, 3)
    timed = times[1:] if repeats > 1 else times
    return {"seconds": float(np.median(timed)), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", default="srresnet-x4", help="an SR run or bundled model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--case", help=argparse.SUPPRESS)  # internal: "size,tile" in a child process
    a = p.parse_args()
    if a.case:
        size, tile = (int(v) for v in a.case.split(","))
        print(json.dumps(one_case(a.run, size, tile, a.repeats if size <= 512 else 1, a.device)))
        return
    from gansuite.weights import import_available

    runs = {"bicubic": ALL_CASES, a.run: ALL_CASES}
    if "realesrgan-x4plus" in import_available():  # RRDBNet: 16.7 M parameters, the 256 px case only
        runs["realesrgan-x4plus"] = ((256, 0),)
    rows = []
    for run, cases in runs.items():
        for size, tile in cases:
            child = [sys.executable, "-m", "benchmarks.bench_upscale", "--run", run, "--device", a.device,
                     "--repeats", str(a.repeats), "--case", f"{size},{tile}"]  # fmt: skip
            result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
            rows.append({"model": Path(run).name, "input": f"{size}x{size}", "output": f"{4 * size}x{4 * size}",
                         "tile": tile or "whole", "seconds": f"{result['seconds']:.2f}",
                         "peak RSS MB": f"{result['peak_mb']:.0f}"})  # fmt: skip
            print(rows[-1], flush=True)
    append_results(f"x4 upscale speed and memory ({a.device})", rows,
                   notes="srresnet-x4: SRResNet x4 (16 blocks, 64 channels); fp32 on CPU; overlap 32; peak RSS "
                   "of the whole process (Python + torch ~ 300 MB of it)")  # fmt: skip


if __name__ == "__main__":
    main()
