"""Device and numeric-precision selection: one place decides where and in what dtype we compute."""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from core_gan.errors import UserError
from core_gan.names import DEVICES

DeviceName = Literal["auto", "cpu", "cuda", "mps"]
PrecisionName = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit name that is unavailable is a user error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps: no Apple MPS device is available (use --device cpu or auto)")
    if name not in DEVICES:
        raise UserError(f"--device {name}: expected one of {', '.join(DEVICES)}")
    return torch.device(name)


@dataclass(frozen=True)
class Precision:
    """The autocast dtype (None = fp32) and whether gradients need loss scaling (fp16 only)."""

    device: torch.device
    dtype: torch.dtype | None

    @property
    def needs_grad_scaler(self) -> bool:
        return self.dtype is torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.needs_grad_scaler)


@functools.cache
def cpu_bf16_is_faster() -> bool:
    """Whether bf16 autocast beats fp32 for a typical generator convolution on this CPU, measured once
    (0.05-0.3 s). It does where the CPU computes bf16 natively (AVX-512 BF16, AMX: 2-4x); elsewhere
    bf16 is emulated and many times slower than fp32. The layer is large enough (64 channels, 96 px)
    for the arithmetic to outweigh the per-call overhead, which hid a 1.5x gain at 32 channels, 48 px."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(1, 64, 96, 96)

    def fastest(context: Callable[[], contextlib.AbstractContextManager]) -> float:
        times = []
        with torch.no_grad():
            for _ in range(3):
                start = time.perf_counter()
                with context():
                    conv(x)
                times.append(time.perf_counter() - start)
        return min(times[1:])

    return fastest(lambda: torch.autocast("cpu", dtype=torch.bfloat16)) < 0.8 * fastest(contextlib.nullcontext)


def auto_precision(device: torch.device) -> str:
    """The fastest safe precision: bf16 on CUDA where supported (no loss scaling needed, fp32's
    range), else fp16 with a grad scaler; on a CPU bf16 only where it is measured faster; else fp32."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu" and cpu_bf16_is_faster():
        return "bf16"
    return "fp32"


def select_precision(device: torch.device, name: str = "fp32") -> Precision:
    """bf16 autocast on CPU; bf16 or fp16 (with a grad scaler) on CUDA; fp16 on CPU is refused;
    ``auto``: :func:`auto_precision`.

    On a CUDA device without bf16 support, ``bf16`` falls back to fp16 with a warning.
    """
    if name not in PRECISIONS:
        raise UserError(f"--precision {name}: expected one of {', '.join(PRECISIONS)}")
    if name == "auto":
        name = auto_precision(device)
    if name == "fp32":
        return Precision(device, None)
    if name == "fp16" and device.type == "cpu":
        raise UserError("--precision fp16 is not supported on CPU (no fp16 conv kernels); use bf16")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        warnings.warn("this GPU has no bf16 support; using fp16 with a grad scaler", stacklevel=2)
        return Precision(device, torch.float16)
    return Precision(device, torch.bfloat16 if name == "bf16" else torch.float16)


@functools.cache
def compile_available(device: torch.device) -> bool:
    """Whether ``torch.compile`` works here (it needs Triton on CUDA, a C++ compiler on CPU); when it
    does not, say so once and train eagerly instead of failing at the first step."""
    try:
        torch.compile(lambda x: x * 2 + 1)(torch.ones(2, device=device))
    except Exception as e:  # any backend failure means: no compiler on this platform
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        warnings.warn(f"--compile: torch.compile is unavailable here ({reason}); training eagerly", stacklevel=2)
        return False
    return True
