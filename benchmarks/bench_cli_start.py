"""How long the command line takes to answer before any model is loaded: ``gansuite --help``, a verb's
``--help``, an argparse error and ``train MODEL --help``, beside ``python -c "import torch"`` (medians of
``--runs`` fresh processes).

    python -m benchmarks.bench_cli_start [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchmarks.common import append_results

COMMANDS = {
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "gansuite --help": [sys.executable, "-m", "gansuite", "--help"],
    "gansuite upscale --help": [sys.executable, "-m", "gansuite", "upscale", "--help"],
    "gansuite upscale (argparse error)": [sys.executable, "-m", "gansuite", "upscale"],
    "gansuite train pix2pix --help": [sys.executable, "-m", "gansuite", "train", "pix2pix", "--help"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    a = p.parse_args()
    rows = [{"command": name, "median s": f"{statistics.median(seconds(c) for _ in range(a.runs)):.2f}"}
            for name, c in COMMANDS.items()]  # fmt: skip
    append_results("CLI start-up before any model is loaded", rows, notes=f"medians of {a.runs} fresh processes")


if __name__ == "__main__":
    main()
