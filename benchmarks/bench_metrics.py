"""Fréchet distance at d = 2048 (ours vs scipy sqrtm) and Inception feature throughput.

The Inception weights are random here (the published file cannot be downloaded on this machine):
throughput does not depend on the weight values. Pass --weights for the real file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from benchmarks.common import append_results
from core_gan.metrics.features import InceptionExtractor
from core_gan.metrics.inception import FIDInceptionV3
from core_gan.metrics.statistics import frechet_distance


def scipy_reference(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def timed(fn, *args, repeats: int = 3) -> tuple[float, float]:
    best, value = float("inf"), 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, value


def frechet_rows(n: int, d: int, repeats: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    # Covariances shaped like Inception features: a decaying spectrum, N = n samples.
    scales = 1.0 / np.sqrt(1 + np.arange(d))
    a = rng.standard_normal((n, d)) * scales
    b = rng.standard_normal((n, d)) * scales * 1.1 + 0.01
    stats = (a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    t_ours, v_ours = timed(frechet_distance, *stats, repeats=repeats)
    t_ref, v_ref = timed(scipy_reference, *stats, repeats=repeats)
    return [
        {"method": "ours (eigh of sqrt(S1) S2 sqrt(S1), float64)", "seconds": f"{t_ours:.2f}", "FID": f"{v_ours:.9g}"},
        {"method": "scipy.linalg.sqrtm(S1 S2)", "seconds": f"{t_ref:.2f}", "FID": f"{v_ref:.9g}"},
        {"method": "speed-up / relative difference", "seconds": f"{t_ref / t_ours:.1f}x",
         "FID": f"{abs(v_ours - v_ref) / abs(v_ref):.1e}"},
    ]  # fmt: skip


def throughput_rows(batch: int, batches: int, device: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.pth"
        torch.save(FIDInceptionV3().state_dict(), path)
        extractor = InceptionExtractor(path, device)
    images = torch.rand(batch, 3, 256, 256)
    extractor(images[:2])
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(batches):
        extractor(images)
    if device == "cuda":
        torch.cuda.synchronize()
    rate = batch * batches / (time.perf_counter() - t0)
    return [{"device": device, "batch": batch, "input": "256x256 -> 299 (legacy)", "images/s": f"{rate:.1f}"}]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--batches", type=int, default=3)
    a = p.parse_args()
    append_results(
        f"Fréchet distance at d = {a.dim} (N = {a.n}), best of {a.repeats}", frechet_rows(a.n, a.dim, a.repeats)
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [row for device in devices for row in throughput_rows(a.batch, a.batches, device)]
    append_results("FID Inception feature extraction throughput", rows, notes="random weights; speed only")


if __name__ == "__main__":
    main()
