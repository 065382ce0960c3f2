import subprocess
import sys

import pytest
import torch

from core_gan import device
from core_gan.device import compile_available, select_device, select_precision
from core_gan.errors import UserError


def test_auto_picks_an_available_device():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert select_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_missing_cuda_is_a_user_error():
    with pytest.raises(UserError, match="--device cuda"):
        select_device("cuda")


def test_precision_on_cpu():
    cpu = torch.device("cpu")
    assert select_precision(cpu, "fp32").dtype is None
    bf16 = select_precision(cpu, "bf16")
    assert not bf16.needs_grad_scaler
    with bf16.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with pytest.raises(UserError, match="fp16 is not supported on CPU"):
        select_precision(cpu, "fp16")


def test_auto_precision_follows_the_measurement_on_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert isinstance(device.cpu_bf16_is_faster(), bool)
    for faster, expected in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(device, "cpu_bf16_is_faster", lambda faster=faster: faster)
        assert select_precision(cpu, "auto").dtype is expected
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert device.auto_precision(torch.device("cuda")) == "fp16"


def test_fp16_on_cuda_uses_a_grad_scaler():
    precision = select_precision(torch.device("cuda"), "fp16")
    assert precision.needs_grad_scaler and precision.dtype is torch.float16


def test_compile_falls_back_to_eager_with_a_warning_where_it_cannot_compile(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nlong traceback")

    compile_available.cache_clear()
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="torch.compile is unavailable here .no C.. compiler found.; training eagerly"):
        assert not compile_available(torch.device("cpu"))
    compile_available.cache_clear()


RETAIN_PROBE = """
import resource, sys, threading, torch
from core_gan.speed import retain_freed_memory
def page_faults(mib):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.ones(mib * 2**18)  # freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
def in_a_thread(mib):
    counts = []
    thread = threading.Thread(target=lambda: counts.append(min(page_faults(mib) for _ in range(4))))
    thread.start()
    thread.join()
    return counts[0]
if sys.argv[1] == "retained":
    assert retain_freed_memory()
probes = [lambda: page_faults(64), lambda: in_a_thread(64)]
for probe in probes:
    probe()  # the heap grows to hold the block once
print(*[probe() for probe in probes])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_retained_memory_is_reused_without_page_faults():
    """By default glibc hands freed blocks above its mmap threshold (at most 32 MiB) back to the OS,
    in the main thread and in a worker thread's arena, and faults them in again on every use; once
    retained, they are reused from the heap (in a thread: its best of four rounds, as glibc now and then
    places a block afresh). In fresh processes: the setting is global."""
    default, retained = (
        subprocess.run([sys.executable, "-c", RETAIN_PROBE, mode], capture_output=True, text=True, check=True).stdout
        for mode in ("default", "retained")
    )
    for size, before, after in zip(("64 MiB", "64 MiB in a thread"), default.split(), retained.split(), strict=True):
        assert int(before) > 2000, f"{size}: the default allocator faults freed blocks in again"
        assert int(after) < int(before) // 10, size
