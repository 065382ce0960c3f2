"""The CPU inference plan: measured once per machine and network, cached, and never further than
two grey levels from fp32, checked on photos."""

import copy
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from apps.common import UNSEEN_PHOTOS
from core_gan import cpu_plan
from core_gan.cpu_plan import TOLERANCE, CpuPlan, fastest_cpu_plan, fastest_kernels, measure, probe_image
from core_gan.speed import (
    CHANNELS_LAST,
    LIBRARY,
    NNPACK,
    KernelChoiceConv2d,
    SlopePReLU,
    choose_conv_kernels,
    nnpack_available,
    nnpack_computes,
    shuffle_after_convolutions,
    slope_prelus,
    subpixel_convolution,
)
from gansuite.inference import Upscaler
from translation.srgan import SRResNet, SRResNetConfig


@pytest.fixture
def unpinned(monkeypatch, tmp_path):
    monkeypatch.delenv(cpu_plan.PIN, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cpu_plan, "cpu_bf16_is_faster", lambda: True)  # offer every candidate


def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(16, 3, 3, padding=1), torch.nn.Tanh()).eval()  # fmt: skip


def test_the_plan_is_measured_once_then_read_from_the_cache(unpinned, monkeypatch):
    net, probe = small_net(), probe_image(3, 32)
    with torch.no_grad():
        reference = net(probe)
        run = fastest_cpu_plan(net, probe)
        assert (run(probe) - reference).abs().max() <= TOLERANCE
    ((machine, plans),) = json.loads(cpu_plan.plans_file().read_text()).items()
    assert machine == cpu_plan.machine_key() and list(plans) == [cpu_plan.network_key(net, probe)]
    monkeypatch.setattr(cpu_plan, "measure", lambda *a: pytest.fail("measured again"))
    fastest_cpu_plan(net, probe)
    other = small_net()
    with torch.no_grad():
        other[0].weight.mul_(2)
    with pytest.raises(pytest.fail.Exception):
        fastest_cpu_plan(other, probe)  # other weights: another key


class Cancelling(torch.nn.Module):
    """1000 (W x - 0.9998 x) with W = 0.9999 I: a difference that bf16's 8-bit mantissa cannot resolve."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1) * 0.9999)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1000 * (self.conv(x) - 0.9998 * x)


def test_a_plan_outside_the_tolerance_is_never_chosen(unpinned):
    assert not measure(Cancelling().eval(), probe_image(3, 32)).bf16


def test_bf16_on_photos_stays_within_two_grey_levels(unpinned, monkeypatch):
    """Forced to bf16 in the sub-pixel form (where the CPU has bf16 natively the measurement may choose
    it), SRResNet x4 on crops of three photos no model saw stays within two grey levels of fp32."""
    plan = CpuPlan(bf16=True, channels_last=True, subpixel=True)
    monkeypatch.setattr(cpu_plan, "measure", lambda network, probe: plan)
    fast, exact = Upscaler("srresnet-x4"), Upscaler("srresnet-x4", backend="torch")
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        with Image.open(UNSEEN_PHOTOS / name) as im:
            crop = np.asarray(im.convert("RGB"))[100:148, 100:148]
        diff = np.abs(fast(crop).astype(int) - exact(crop).astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.5, name


needs_nnpack = pytest.mark.skipif(not nnpack_available(), reason="this torch build or CPU has no NNPACK")


@pytest.mark.parametrize("kernel", [CHANNELS_LAST, pytest.param(NNPACK, marks=needs_nnpack)])
@pytest.mark.parametrize(("channels", "size", "padding"), [(16, 3, 1), (3, 9, 4), (8, 1, 0), (5, 4, 2)])
def test_every_kernel_computes_the_library_convolution(kernel, channels, size, padding):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(channels, 7, size, padding=padding)
    x = torch.randn(2, channels, 21, 19)
    with torch.no_grad():
        expected = conv(x)
        choose_conv_kernels(conv, {"": kernel})
        assert type(conv) is KernelChoiceConv2d and conv.cpu_kernel == kernel
        got = conv(x)
    assert got.shape == expected.shape and got.is_contiguous()
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("plain", "candidate", "chosen"), [
    ([1.0, 1.0, 1.0], [0.97, 0.96, 0.98], CpuPlan()),  # 4 % faster: not worth leaving the library
    ([1.0, 1.0, 1.0], [0.9, 0.9, 0.9], CpuPlan(channels_last=True)),
    ([9.0, 1.0, 1.0], [0.8, 9.0, 9.0], CpuPlan(channels_last=True)),  # each keeps its fastest round
])  # fmt: skip
def test_the_measurement_takes_a_plan_only_when_clearly_faster(unpinned, monkeypatch, plain, candidate, chosen):
    """Timings rigged, in the order measure takes them: plain fp32, then the candidate, each round."""
    times = iter(t for pair in zip(plain, candidate, strict=True) for t in pair)
    monkeypatch.setattr(cpu_plan, "candidates", lambda forms, probe: [CpuPlan(channels_last=True)])
    monkeypatch.setattr(cpu_plan, "seconds", lambda run, x, repeats: next(times))
    assert measure(small_net().eval(), probe_image(3, 16)) == chosen
    assert next(times, None) is None, "every round timed both"


def test_nnpack_is_offered_only_where_it_computes_the_layer():
    x = torch.randn(1, 4, 16, 16)
    computes = {name: nnpack_computes(conv, x) for name, conv in {
        "stride 2": torch.nn.Conv2d(4, 4, 3, stride=2), "groups": torch.nn.Conv2d(4, 4, 3, groups=2),
        "dilation": torch.nn.Conv2d(4, 4, 3, dilation=2), "reflect": torch.nn.Conv2d(4, 4, 3, padding_mode="reflect"),
        "same": torch.nn.Conv2d(4, 4, 3, padding="same")}.items()}  # fmt: skip
    assert not any(computes.values()), computes
    assert not nnpack_computes(torch.nn.Conv2d(4, 4, 3).bfloat16(), x.bfloat16())


def test_the_per_layer_plan_names_only_the_faster_kernels_and_survives_the_cache(unpinned, monkeypatch):
    """Timings rigged: channels-last for the first convolution, NNPACK (where there is one) for the
    second. The plan names exactly those, is cached with them, and the cached plan sets them again."""
    net, probe = small_net(), probe_image(3, 32)
    wanted = {"0": CHANNELS_LAST, "2": NNPACK if nnpack_available() else CHANNELS_LAST}
    layer_names = {id(layer): name for name, layer in net.named_modules()}
    monkeypatch.setattr(cpu_plan, "kernel_seconds",
                        lambda layer, kernel, x: 0.0 if wanted[layer_names[id(layer)]] == kernel else 1.0)  # fmt: skip
    assert fastest_kernels(net, probe) == wanted
    monkeypatch.setattr(cpu_plan, "measure", lambda network, probe: CpuPlan(kernels=fastest_kernels(network, probe)))
    with torch.no_grad():
        reference = CpuPlan().apply(net)(probe)
        fastest_cpu_plan(net, probe)
        choose_conv_kernels(net, {})
        monkeypatch.setattr(cpu_plan, "measure", lambda *a: pytest.fail("measured again"))
        run = fastest_cpu_plan(net, probe)
        assert {name: net.get_submodule(name).cpu_kernel for name in wanted} == wanted
        assert (run(probe) - reference).abs().max() <= TOLERANCE
    choose_conv_kernels(net, {})
    assert all(layer.cpu_kernel == LIBRARY for layer in net if isinstance(layer, KernelChoiceConv2d))


@needs_nnpack
def test_nnpack_and_channels_last_on_photos_stay_within_two_grey_levels(unpinned, monkeypatch):
    """Every convolution of SRResNet x4 on NNPACK, or on channels-last maps, on crops of three photos
    no model saw: within two grey levels of the library's fp32."""
    exact = Upscaler("srresnet-x4", backend="torch")
    for kernel in (NNPACK, CHANNELS_LAST):
        monkeypatch.setattr(
            cpu_plan,
            "measure",
            lambda network, probe, kernel=kernel: CpuPlan(
                kernels={name: kernel for name, m in network.named_modules() if isinstance(m, torch.nn.Conv2d)}
            ),
        )
        fast = Upscaler("srresnet-x4")  # its plan is measured in the background
        for thread in threading.enumerate():
            if thread.name == "cpu-plan":
                thread.join()
        cpu_plan.plans_file().unlink()
        for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
            with Image.open(UNSEEN_PHOTOS / name) as im:
                crop = np.asarray(im.convert("RGB"))[100:148, 100:148]
            diff = np.abs(fast(crop).astype(int) - exact(crop).astype(int))
            assert diff.max() <= 2 and diff.mean() < 0.5, (kernel, name)


@pytest.mark.parametrize(("upscale", "kernel", "bias"), [(2, 9, True), (2, 3, True), (3, 5, False), (2, 1, True)])
def test_a_convolution_after_a_shuffle_equals_its_phase_convolution_before_it(upscale, kernel, bias):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 3, kernel, padding=kernel // 2, bias=bias)
    x = torch.randn(2, 4 * upscale**2, 7, 6)
    shuffle = torch.nn.PixelShuffle(upscale)
    with torch.no_grad():
        torch.testing.assert_close(shuffle(subpixel_convolution(conv, upscale)(x)), conv(shuffle(x)))


def test_srresnet_moves_only_its_output_shuffle_and_computes_the_same_function():
    """The 9x9 output layer after the last x2 shuffle is moved (23 % more multiply-adds); the 3x3
    layer after the first shuffle is not (4x); the original network is untouched."""
    torch.manual_seed(0)
    net = SRResNet(SRResNetConfig(features=8, blocks=1, batch_norm=False)).eval()
    moved = shuffle_after_convolutions(net)
    x = torch.rand(1, 3, 12, 10) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(moved(x), net(x), atol=1e-5, rtol=1e-5)
    called = {node.target for node in moved.graph.nodes if node.op == "call_module"}
    assert "upsample.1" in called and "upsample.4" not in called and "tail" in called
    phases, shuffle = moved.get_submodule("tail")
    assert (phases.in_channels, phases.out_channels, phases.kernel_size) == (8 * 4, 3 * 4, (5, 5))
    assert isinstance(shuffle, torch.nn.PixelShuffle) and shuffle.upscale_factor == 2
    assert isinstance(net.tail, torch.nn.Conv2d) and isinstance(net.upsample[4], torch.nn.PixelShuffle)
    assert moved.get_submodule("upsample.3") is net.upsample[3], "the layers are shared, not copied"


def test_a_single_prelu_becomes_its_leaky_relu_at_inference_and_keeps_its_gradient_in_training():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.PReLU(init=0.3), torch.nn.PReLU(4))
    plain, x = copy.deepcopy(net), torch.randn(2, 3, 8, 8)
    slope_prelus(net)
    assert type(net[1]) is SlopePReLU and type(net[2]) is torch.nn.PReLU, "a per-channel PReLU is kept"
    assert net.state_dict().keys() == plain.state_dict().keys()
    with torch.no_grad():
        torch.testing.assert_close(net(x), plain(x), atol=0, rtol=0)
        for dtype in (torch.float32, torch.bfloat16):
            y = x.to(dtype) * 3
            torch.testing.assert_close(net[1](y), torch.nn.functional.prelu(y, net[1].weight.to(dtype)))
    net(x).sum().backward()
    plain(x).sum().backward()
    torch.testing.assert_close(net[1].weight.grad, plain[1].weight.grad)


@pytest.mark.parametrize("between", [torch.nn.BatchNorm2d(4), torch.nn.PReLU(4)])
def test_a_shuffle_stays_where_a_layer_between_mixes_its_channels(between):
    shuffle_then_conv = torch.nn.Sequential(torch.nn.PixelShuffle(2), between, torch.nn.Conv2d(4, 3, 9, padding=4))
    assert shuffle_after_convolutions(shuffle_then_conv.eval()) is None
    assert shuffle_after_convolutions(small_net()) is None, "no shuffle: nothing to trace"


def test_the_subpixel_plan_is_offered_and_cached(unpinned):
    net = SRResNet(SRResNetConfig(features=8, blocks=1, batch_norm=False)).eval()
    probe = probe_image(3, 16)
    offered = cpu_plan.candidates(cpu_plan.network_forms(net), probe)
    assert {plan.subpixel for plan in offered} == {False, True}
    with torch.no_grad():
        reference = net(probe)
        run = fastest_cpu_plan(net, probe)
        assert (run(probe) - reference).abs().max() <= TOLERANCE


def test_the_probe_has_smooth_and_textured_halves():
    """The tolerance is checked where a network's rounding shows: on edges and texture as well."""
    probe = probe_image(3, 64)
    roughness = [half.diff(n=2, dim=-1).abs().mean().item() for half in (probe[..., :32], probe[..., 32:])]
    assert probe.abs().max() <= 1 and roughness[1] > 10 * roughness[0]


def test_a_background_plan_runs_fp32_at_once_then_swaps_in_the_measured_plan(unpinned, monkeypatch):
    net, probe = small_net(), probe_image(3, 32)
    go = threading.Event()
    real_measure = cpu_plan.measure

    def slow_measure(network, x):
        go.wait(timeout=30)
        return real_measure(network, x)

    monkeypatch.setattr(cpu_plan, "measure", slow_measure)
    with torch.no_grad():
        reference = net(probe)
        run = fastest_cpu_plan(net, probe, background=True)
        assert torch.equal(run(probe), reference), "plain fp32 while the plan is measured"
        assert not cpu_plan.plans_file().exists(), "nothing cached before the measurement ends"
        go.set()
        assert run.ready.wait(timeout=60)
        assert (run(probe) - reference).abs().max() <= TOLERANCE
    assert cpu_plan.network_key(net, probe) in json.loads(cpu_plan.plans_file().read_text())[cpu_plan.machine_key()]
    monkeypatch.setattr(cpu_plan, "measure", lambda *a: pytest.fail("measured again"))
    fastest_cpu_plan(net, probe, background=True)  # cached: applied at once


def test_a_failed_background_measurement_is_one_line_and_keeps_serving_fp32(unpinned, monkeypatch, capsys):
    net, probe = small_net(), probe_image(3, 32)

    def broken(network, x):
        raise RuntimeError("oneDNN refused\nsecond line")

    monkeypatch.setattr(cpu_plan, "measure", broken)
    with torch.no_grad():
        run = fastest_cpu_plan(net, probe, background=True)
        assert run.ready.wait(timeout=30)
        assert torch.equal(run(probe), net(probe))
    lines = [line for line in capsys.readouterr().err.splitlines() if "failed" in line]
    assert lines == ["Sequential: timing its CPU plan failed (oneDNN refused); it runs in fp32"]
    assert not cpu_plan.plans_file().exists()


def test_a_process_exiting_mid_measurement_ends_cleanly(tmp_path):
    """A script that exits while a background plan is being measured: the measurement stops at its next
    timed call and the process exits 0, instead of aborting in torch's threads ("terminate called ...")."""
    script = (
        "import torch; from torch import nn; from core_gan.cpu_plan import BackgroundPlan, probe_image; "
        "net = nn.Sequential(*[nn.Conv2d(3, 3, 3, padding=1) for _ in range(8)]).eval(); "
        "BackgroundPlan(net, probe_image(3, 64), 'k')"
    )
    env = {**os.environ, "TORCH_HOME": str(tmp_path)}
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0 and "terminate called" not in done.stderr, done.stderr[-500:]
    assert not list(tmp_path.rglob("*.json")), "a stopped measurement caches nothing"
