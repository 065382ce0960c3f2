"""Shared by the benchmark scripts: run the CLI in-process, and append figures to RESULTS.md."""

from __future__ import annotations

import datetime
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core_gan.cpu_plan import cpu_name, cpuinfo
from core_gan.distributed import launched_by_torchrun

RESULTS = Path(__file__).with_name("RESULTS.md")


def vector_units() -> str:
    """What the CPU offers for bf16 (CPUs of one name differ between machines here)."""
    flags = set(cpuinfo("flags").split())
    if "amx_bf16" in flags:
        return "AMX-BF16"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    widest = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{widest}, no native bf16"


def machine() -> str:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{cpu_name()} ({vector_units()}), {os.cpu_count()} cores, {gpu}; torch {torch.__version__}"


def invocation() -> str:
    """The command line that ran this benchmark, as a user would type it from the repository root."""
    script = Path(sys.argv[0])
    launcher = "python"
    if launched_by_torchrun():
        launcher = f"torchrun --standalone --nproc_per_node={os.environ['WORLD_SIZE']}"
    program = f"-m benchmarks.{script.stem}" if script.parent.name == "benchmarks" else shlex.quote(str(script))
    return " ".join([launcher, program, *(shlex.quote(a) for a in sys.argv[1:])])


def append_results(title: str, table: list[dict[str, object]], notes: str = "", results: Path = RESULTS) -> None:
    """Append one section (markdown table) with machine, date and the command that produced it."""
    command = invocation()
    keys = list(table[0])
    lines = [
        f"## {title}",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine()}",
        f"- command: `{command}`",
    ]
    if notes:
        lines.append(f"- notes: {notes}")
    lines += ["", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in table]
    text = "\n".join(lines) + "\n\n"
    if not results.exists():
        results.write_text(
            "# Benchmark results\n\nMeasured figures; each section names its machine, date and command.\n\n"
        )
    with results.open("a") as f:
        f.write(text)
    print(text)


def median_seconds(call: Callable[[], object], calls: int) -> float:
    """The median time of ``calls`` calls of ``call`` after one warm-up call."""
    call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grey_levels(a: np.ndarray, b: np.ndarray, digits: int = 2) -> str:
    """How far two uint8 images (or stacks of them) are apart: "max M, mean X" in grey levels."""
    diff = np.abs(np.asarray(a, int) - np.asarray(b, int))
    return f"max {diff.max()}, mean {diff.mean():.{digits}f}"
