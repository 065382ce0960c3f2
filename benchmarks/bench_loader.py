"""Throughput of the paired (pix2pix) loader at 256 px: JPEG decode, resize to 286, random crop 256,
flip, to tensor; workers as given. Printed next to the pix2pix training step time when known."""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from benchmarks.common import append_results
from core_gan.data.builders import EdgeConfig, build_edges
from core_gan.data.folders import PairedFolder
from core_gan.data.stream import batch_stream

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "photos"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--step-ms", type=float, help="pix2pix ms/step on this machine, to compare")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build_edges(SAMPLES, Path(tmp) / "train", EdgeConfig(size=256))
        ds = PairedFolder(Path(tmp), "train", seed=0)
        stream = batch_stream(ds, a.batch_size, num_workers=a.workers)
        next(stream)  # start the workers
        t0 = time.perf_counter()
        for _ in itertools.islice(stream, a.images // a.batch_size):
            pass
        rate = a.images / (time.perf_counter() - t0)
    row: dict[str, object] = {"loader": f"paired, 256 px, {a.workers} workers, batch {a.batch_size}",
                              "images/s": f"{rate:.1f}", "ms/image": f"{1000 / rate:.1f}"}  # fmt: skip
    if a.step_ms:
        row["pix2pix ms/step (batch 1)"] = a.step_ms
    append_results("Paired loader throughput", [row], notes="7 bundled photos made into edges|photo pairs")


if __name__ == "__main__":
    main()
