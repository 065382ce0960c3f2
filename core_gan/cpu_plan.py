"""How a generator runs fastest on this CPU at inference, chosen by measuring, not by hard-coding.

Candidates: fp32 with each convolution on the kernel timed fastest for its own input on a probe
image (the library's, the library's on channels-last maps, or NNPACK's: see
:class:`core_gan.speed.KernelChoiceConv2d`), and, only where this CPU computes bf16 natively
(:func:`core_gan.device.cpu_bf16_is_faster`), bf16 autocast in either memory layout; each of them
also with pixel shuffles moved after the convolutions they feed, where the network has such (the
sub-pixel form: :func:`core_gan.speed.shuffle_after_convolutions`). Each candidate
is timed on the probe as a whole and counts only when its output stays within ``TOLERANCE`` of
plain fp32's. The choice is cached per machine and network (its class, weights and probe size) in
torch hub's cache, so a later start skips the measurement. ``GANSUITE_CPU_PLAN=fp32`` pins plain fp32
with the library's kernels (the tests do).
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import hashlib
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from core_gan.checkpoint import first_line, write_json
from core_gan.device import cpu_bf16_is_faster
from core_gan.download import cache_dir
from core_gan.errors import UserError
from core_gan.speed import (
    CHANNELS_LAST,
    LIBRARY,
    NNPACK,
    choose_conv_kernels,
    nnpack_computes,
    shuffle_after_convolutions,
    slope_prelus,
)

TOLERANCE = 2 * 2 / 255
"""Two grey levels, in the generators' [-1, 1] units."""
PIN = "GANSUITE_CPU_PLAN"
PLAN_FORMAT = 5
"""Part of every cache key: plans measured by an earlier version are measured again."""


@dataclass(frozen=True)
class CpuPlan:
    """bf16 autocast and/or channels-last memory layout (weights and maps) for one generator, and the
    kernel of each convolution (by module name) that does not take the library's."""

    bf16: bool = False
    channels_last: bool = False
    subpixel: bool = False
    kernels: dict[str, str] = field(default_factory=dict)

    def layers(self, network: nn.Module) -> nn.Module:
        """``network``, or with ``subpixel`` its form with pixel shuffles after the convolutions they
        feed (:func:`core_gan.speed.shuffle_after_convolutions`)."""
        return (self.subpixel and shuffle_after_convolutions(network)) or network

    def apply(self, network: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """``network``, already in this plan's form (:meth:`layers`), laid out for this plan, as a
        function of fp32 (B, C, H, W) -> fp32 maps."""
        network.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        choose_conv_kernels(network, self.kernels)
        slope_prelus(network)

        def run(x: torch.Tensor) -> torch.Tensor:
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                return network(x).float().contiguous()

        return run


EXITING = threading.Event()
"""Set as the process exits: a measurement in a background thread stops at its next timed call (a thread
still in torch's kernels when the interpreter ends aborts it: "terminate called without an active exception")."""


class Stopped(Exception):
    """The process is exiting: a background measurement gives up (nothing is cached)."""


def seconds(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, repeats: int) -> float:
    """The shortest of ``repeats`` timed calls ``run(x)``."""
    times = []
    for _ in range(repeats):
        if EXITING.is_set():
            raise Stopped
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return min(times)


def conv_inputs(network: nn.Module, probe: torch.Tensor) -> dict[str, tuple[nn.Conv2d, torch.Size]]:
    """Each convolution of ``network`` (by name) with the shape of its input when ``network`` runs on ``probe``."""
    inputs: dict[str, tuple[nn.Conv2d, torch.Size]] = {}

    def record(name: str, layer: nn.Conv2d, args: tuple[torch.Tensor, ...]) -> None:
        inputs.setdefault(name, (layer, args[0].shape))

    convolutions = [(name, layer) for name, layer in network.named_modules() if isinstance(layer, nn.Conv2d)]
    hooks = [layer.register_forward_pre_hook(functools.partial(record, name)) for name, layer in convolutions]
    try:
        network(probe)
    finally:
        for hook in hooks:
            hook.remove()
    return inputs


def fastest_kernels(
    network: nn.Module, probe: torch.Tensor, fastest: dict[tuple[str, torch.Size], str] | None = None
) -> dict[str, str]:
    """For each fp32 convolution, the kernel fastest on an input of its shape on ``probe``; identical
    layers on identical shapes are timed once (also across calls sharing ``fastest``). Only the
    convolutions that do not take the library's kernel are named."""
    choose_conv_kernels(network, {})
    fastest = {} if fastest is None else fastest
    kernels = {}
    for name, (layer, shape) in conv_inputs(network, probe).items():
        signature = (repr(layer), shape)
        if signature not in fastest:
            x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
            offered = [k for k in (LIBRARY, CHANNELS_LAST, NNPACK) if k != NNPACK or nnpack_computes(layer, x)]
            timed = {kernel: kernel_seconds(layer, kernel, x) for kernel in offered}
            fastest[signature] = min(timed, key=timed.__getitem__)
            layer.cpu_kernel = LIBRARY
        if fastest[signature] != LIBRARY:
            kernels[name] = fastest[signature]
    return kernels


def kernel_seconds(layer: nn.Conv2d, kernel: str, x: torch.Tensor) -> float:
    """``layer(x)`` on ``kernel``: after a warm-up, the best of three calls."""
    layer.cpu_kernel = kernel
    layer(x)
    return seconds(layer, x, repeats=3)


def network_forms(network: nn.Module) -> dict[bool, nn.Module]:
    """``network`` by ``CpuPlan.subpixel``: itself, and its sub-pixel form where it has one (traced once)."""
    subpixel = shuffle_after_convolutions(network)
    return {False: network} if subpixel is None else {False: network, True: subpixel}


def candidates(forms: dict[bool, nn.Module], probe: torch.Tensor) -> list[CpuPlan]:
    plans, fastest = [], {}
    for subpixel, layers in forms.items():
        plans.append(CpuPlan(subpixel=subpixel, kernels=fastest_kernels(layers, probe, fastest)))
        if cpu_bf16_is_faster():
            plans += [CpuPlan(bf16=True, subpixel=subpixel), CpuPlan(bf16=True, channels_last=True, subpixel=subpixel)]
    return plans


ROUNDS = 3
MARGIN = 0.95
"""A plan replaces plain fp32 only when at least 5 % faster: on a shared CPU the per-layer timings
vary between starts, and a plan no faster than the library's kernels is no reason to leave them."""


@torch.no_grad()
def measure(network: nn.Module, probe: torch.Tensor) -> CpuPlan:
    """The fastest candidate whose output on ``probe`` is within ``TOLERANCE`` of plain fp32's (each
    candidate's first call, which also warms it up, is the one checked). Plain fp32 and the candidates
    are timed in turn, ``ROUNDS`` times, so that a burst of load on the machine hits them alike; each
    keeps its fastest call."""
    forms = network_forms(network)
    reference = CpuPlan().apply(network)(probe)
    plans = [CpuPlan()]
    for plan in candidates(forms, probe):
        if (plan.apply(forms[plan.subpixel])(probe) - reference).abs().max().item() <= TOLERANCE:
            plans.append(plan)
    best = [float("inf")] * len(plans)
    for _ in range(ROUNDS):
        for i, plan in enumerate(plans):
            best[i] = min(best[i], seconds(plan.apply(forms[plan.subpixel]), probe, repeats=1))
    fastest = min(range(len(plans)), key=best.__getitem__)
    return plans[fastest] if best[fastest] < MARGIN * best[0] else CpuPlan()


def cpuinfo(key: str) -> str:
    """A field of the first CPU in Linux's /proc/cpuinfo ("" elsewhere)."""
    path = Path("/proc/cpuinfo")
    lines = path.read_text().splitlines() if path.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.split(":")[0].strip() == key), "")


def cpu_name() -> str:
    return cpuinfo("model name") or platform.processor() or platform.machine()


def machine_key() -> str:
    """What the fastest plan depends on besides the network: the CPU (its name, which virtual
    machines often shorten, and a digest of its instruction-set flags), its threads, torch."""
    flags = hashlib.sha256(cpuinfo("flags").encode()).hexdigest()[:8]
    return f"{cpu_name()} (flags {flags}); {torch.get_num_threads()} threads; torch {torch.__version__}"


def network_key(network: nn.Module, probe: torch.Tensor) -> str:
    digest = hashlib.sha256(f"plan {PLAN_FORMAT}: {type(network).__name__} {tuple(probe.shape)}".encode())
    for tensor in network.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def plans_file() -> Path:
    return cache_dir().parent / "gansuite" / "cpu-plans.json"


def _known_plans() -> dict[str, dict[str, dict]]:
    path = plans_file()
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _record(key: str, plan: CpuPlan) -> None:
    """Add a measured plan to the cache (re-read first: another model may have been measured meanwhile)."""
    known = _known_plans()
    known.setdefault(machine_key(), {})[key] = asdict(plan)
    with contextlib.suppress(UserError):  # an unwritable cache only costs the next start a measurement
        write_json(plans_file(), known)


def fastest_cpu_plan(
    network: nn.Module, probe: torch.Tensor, background: bool = False
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` (in eval mode, on the CPU) run by its fastest plan: the cached one, else measured
    now, or with ``background`` measured by a :class:`BackgroundPlan` while the network runs in fp32."""
    if os.environ.get(PIN) == "fp32":
        return CpuPlan().apply(network)
    key = network_key(network, probe)
    cached = _known_plans().get(machine_key(), {}).get(key)
    if cached is not None:
        plan = CpuPlan(**cached)
        return plan.apply(plan.layers(network))
    name = type(network).__name__
    if background:
        print(f"first start on this machine: timing how {name} runs fastest here, in the background (it runs in "
              "fp32 until then; once per machine)", file=sys.stderr)  # fmt: skip
        return BackgroundPlan(network, probe, key)
    print(f"first start on this machine: timing how {name} runs fastest here", file=sys.stderr)
    plan = measure(network, probe)
    _record(key, plan)
    return plan.apply(plan.layers(network))


class BackgroundPlan:
    """``network`` in plain fp32 at once, while a daemon thread measures its fastest plan on a copy
    (one measurement at a time in the process) and then swaps it in. The plan is cached only once
    measured: a process stopped before that loses nothing, and the next start measures again."""

    _one_at_a_time = threading.Lock()
    _threads: ClassVar[list[threading.Thread]] = []

    def __init__(self, network: nn.Module, probe: torch.Tensor, key: str) -> None:
        self.run = CpuPlan().apply(network)
        self.ready = threading.Event()
        if not self._threads:
            atexit.register(self._stop_all)
        thread = threading.Thread(target=self._measure, args=(network, probe, key), daemon=True, name="cpu-plan")
        self._threads[:] = [*(t for t in self._threads if t.is_alive()), thread]
        thread.start()

    @classmethod
    def _stop_all(cls) -> None:
        """At exit: every measurement stops at its next timed call, and the process waits for that."""
        EXITING.set()
        for thread in cls._threads:
            thread.join()

    def _measure(self, network: nn.Module, probe: torch.Tensor, key: str) -> None:
        name = type(network).__name__
        try:
            with self._one_at_a_time, torch.no_grad():
                plan = measure(copy.deepcopy(network), probe)
                _record(key, plan)
                planned = plan.layers(copy.deepcopy(network))
                self.run = plan.apply(planned)
            print(f"{name}: its fastest plan on this CPU is measured and in use", file=sys.stderr)
        except Stopped:  # the process is exiting: nothing to say, nothing cached
            pass
        except Exception as e:  # the network keeps serving in fp32; the next start measures again
            print(f"{name}: timing its CPU plan failed ({first_line(e)}); it runs in fp32", file=sys.stderr)
        finally:
            self.ready.set()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def probe_image(channels: int, side: int) -> torch.Tensor:
    """A photo-like (1, channels, side, side) image in [-1, 1], the same every time: its left half
    smooth, its right half edges and texture (blocks and noise). The tolerance is checked on both: a
    bf16 plan that passed a smooth probe (1.9 grey levels) was off by 6.7 on photos' foliage."""
    g = torch.Generator().manual_seed(0)
    coarse, fine = (torch.rand(1, channels, n, n, generator=g) * 2 - 1 for n in (8, side // 8))
    smooth = F.interpolate(coarse, size=(side, side), mode="bicubic", align_corners=False)
    blocks = F.interpolate(fine, size=(side, side))
    textured = 0.5 * smooth + 0.4 * blocks + 0.1 * torch.randn(1, channels, side, side, generator=g)
    return torch.cat([smooth[..., : side // 2], textured[..., side // 2 :]], dim=-1).clamp(-1, 1)
