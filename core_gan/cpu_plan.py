"""How a generator runs fastest on this CPU at inference, chosen by measuring, not by hard-coding.

Candidates: fp32 (the reference), channels-last maps, and, only where this CPU computes bf16
natively (:func:`core_gan.device.cpu_bf16_is_faster`), bf16 autocast with either layout. Each is
timed on a probe image and counts only when its output stays within ``TOLERANCE`` of fp32's. The
choice is cached per machine and network (its class, weights and probe size) in torch hub's cache,
so a later start skips the measurement. ``GANSUITE_CPU_PLAN=fp32`` pins the reference (the tests do).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from core_gan.checkpoint import write_json
from core_gan.device import cpu_bf16_is_faster
from core_gan.download import cache_dir
from core_gan.errors import UserError

TOLERANCE = 2 * 2 / 255
"""Two grey levels, in the generators' [-1, 1] units."""
PIN = "GANSUITE_CPU_PLAN"


@dataclass(frozen=True)
class CpuPlan:
    """bf16 autocast and/or channels-last memory layout (weights and maps) for one generator."""

    bf16: bool = False
    channels_last: bool = False

    def apply(self, network: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """``network`` laid out for this plan, as a function of fp32 (B, C, H, W) -> fp32 maps."""
        network.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)

        def run(x: torch.Tensor) -> torch.Tensor:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                return network(x).float().contiguous()

        return run


def candidates() -> list[CpuPlan]:
    plans = [CpuPlan(), CpuPlan(channels_last=True)]
    if cpu_bf16_is_faster():
        plans += [CpuPlan(bf16=True), CpuPlan(bf16=True, channels_last=True)]
    return plans


def seconds(run: Callable[[torch.Tensor], torch.Tensor], probe: torch.Tensor) -> float:
    start = time.perf_counter()
    run(probe)
    return time.perf_counter() - start


@torch.no_grad()
def measure(network: nn.Module, probe: torch.Tensor) -> CpuPlan:
    """The fastest candidate whose output on ``probe`` is within ``TOLERANCE`` of fp32's (each
    candidate's first call, which also warms it up, is the one checked; its second is timed)."""
    reference = CpuPlan().apply(network)(probe)
    best, best_time = CpuPlan(), float("inf")
    for plan in candidates():
        run = plan.apply(network)
        if (run(probe) - reference).abs().max().item() > TOLERANCE:
            continue
        elapsed = seconds(run, probe)
        if elapsed < best_time:
            best, best_time = plan, elapsed
    return best


def cpuinfo(field: str) -> str:
    """A field of the first CPU in Linux's /proc/cpuinfo ("" elsewhere)."""
    path = Path("/proc/cpuinfo")
    lines = path.read_text().splitlines() if path.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":")[0].strip() == field), "")


def cpu_name() -> str:
    return cpuinfo("model name") or platform.processor() or platform.machine()


def machine_key() -> str:
    """What the fastest plan depends on besides the network: the CPU (its name, which virtual
    machines often shorten, and a digest of its instruction-set flags), its threads, torch."""
    flags = hashlib.sha256(cpuinfo("flags").encode()).hexdigest()[:8]
    return f"{cpu_name()} (flags {flags}); {torch.get_num_threads()} threads; torch {torch.__version__}"


def network_key(network: nn.Module, probe: torch.Tensor) -> str:
    digest = hashlib.sha256(f"{type(network).__name__} {tuple(probe.shape)}".encode())
    for tensor in network.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def plans_file() -> Path:
    return cache_dir().parent / "gansuite" / "cpu-plans.json"


def fastest_cpu_plan(network: nn.Module, probe: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` (in eval mode, on the CPU) run by its fastest plan: the cached one, else measured."""
    if os.environ.get(PIN) == "fp32":
        return CpuPlan().apply(network)
    path, machine, key = plans_file(), machine_key(), network_key(network, probe)
    try:
        known = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        known = {}
    if key in known.get(machine, {}):
        plan = CpuPlan(**known[machine][key])
    else:
        plan = measure(network, probe)
        known.setdefault(machine, {})[key] = asdict(plan)
        with contextlib.suppress(UserError):  # an unwritable cache only costs the next start a measurement
            write_json(path, known)
    return plan.apply(network)


def probe_image(channels: int, side: int) -> torch.Tensor:
    """A smooth, photo-like (1, channels, side, side) image in [-1, 1], the same every time."""
    coarse = torch.rand(1, channels, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(side, side), mode="bicubic", align_corners=False).clamp(-1, 1)
