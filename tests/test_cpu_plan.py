"""The CPU inference plan: measured once per machine and network, cached, and never further than
two grey levels from fp32, checked on photos."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from apps.common import UNSEEN_PHOTOS
from core_gan import cpu_plan
from core_gan.cpu_plan import TOLERANCE, CpuPlan, fastest_cpu_plan, measure, probe_image
from gansuite.inference import Upscaler


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
    """Forced to bf16 (where the CPU has it natively the measurement may choose it), SRResNet x4 on
    crops of three photos no model saw stays within two grey levels of fp32."""
    monkeypatch.setattr(cpu_plan, "measure", lambda network, probe: CpuPlan(bf16=True, channels_last=True))
    fast, exact = Upscaler("srresnet-x4"), Upscaler("srresnet-x4", backend="torch")
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        with Image.open(UNSEEN_PHOTOS / name) as im:
            crop = np.asarray(im.convert("RGB"))[100:148, 100:148]
        diff = np.abs(fast(crop).astype(int) - exact(crop).astype(int))
        assert diff.max() <= 2 and diff.mean() < 0.5, name
