"""The CUDA paths, on a GPU: mixed precision with and without the grad scaler, channels_last and
torch.compile, NCCL DDP under torchrun, fp16 inference against fp32, and a CUDA checkpoint resumed
on the CPU. `pytest -m cuda` runs them (benchmarks/gpu_check.sh does); without a GPU they skip."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gansuite.cli import main
from gansuite.inference import BaseGANModel, Translator, Upscaler

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (benchmarks/gpu_check.sh runs these)"),
]
TINY_PIX2PIX = ["--netG", "unet_32", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--log-every", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuda")
    rng = np.random.default_rng(0)
    for folder, shape in (("pairs/train", (32, 64, 3)), ("hr", (48, 48, 3))):
        (root / folder).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8)).save(root / folder / f"{i}.png")
    return root


def train(args: list[str]) -> None:
    assert main(["train", *args]) == 0


def logged(run) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_steps_are_finite(data, tmp_path, precision):
    """fp16 runs with the grad scaler (its scale is checkpointed); bf16 needs none."""
    run = tmp_path / precision
    train(["pix2pix", "--data", str(data / "pairs"), "--out", str(run), "--steps", "4", "--device", "cuda",
           "--precision", precision, *TINY_PIX2PIX])  # fmt: skip
    assert all(np.isfinite(row["G/total"]) for row in logged(run) if "G/total" in row)
    scaler = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["scaler"]
    assert bool(scaler) == (precision == "fp16")


def test_channels_last_and_compile_train_on_cuda(data, tmp_path):
    run = tmp_path / "compiled"
    train(["pix2pix", "--data", str(data / "pairs"), "--out", str(run), "--steps", "3", "--device", "cuda",
           "--precision", "bf16", "--channels-last", "--compile", *TINY_PIX2PIX])  # fmt: skip
    assert logged(run)[-1]["step"] == 3


def test_nccl_ddp_under_torchrun_with_one_process(data, tmp_path):
    run = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m", "gansuite"]
    args = ["train", "pix2pix", "--data", str(data / "pairs"), "--out", str(run), "--steps", "2", "--device", "cuda",
            *TINY_PIX2PIX]  # fmt: skip
    done = subprocess.run([*launcher, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["world_size"] == 1


def test_cuda_inference_matches_the_cpu(data, tmp_path):
    """Translate and upscale (fp16 on CUDA) within 1-2 grey levels of fp32 on the CPU; sampling runs."""
    train(["pix2pix", "--data", str(data / "pairs"), "--out", str(tmp_path / "p2p"), "--steps", "2", *TINY_PIX2PIX])
    train(["srresnet", "--data", str(data / "hr"), "--out", str(tmp_path / "sr"), "--steps", "2", "--blocks", "2",
           "--features", "8", "--crop-size", "32", "--batch-size", "2", "--log-every", "1"])  # fmt: skip
    train(["dcgan", "--data", "digits", "--out", str(tmp_path / "gan"), "--steps", "2", "--ngf", "4", "--ndf", "4",
           "--batch-size", "8", "--log-every", "1"])  # fmt: skip
    image = np.random.default_rng(1).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    translated = [Translator(tmp_path / "p2p", device)(image).astype(int) for device in ("cpu", "cuda")]
    assert np.abs(translated[0] - translated[1]).max() <= 2
    upscaled = [Upscaler(tmp_path / "sr", device)(image).astype(int) for device in ("cpu", "cuda")]
    assert Upscaler(tmp_path / "sr", "cuda").dtype == torch.float16
    assert np.abs(upscaled[0] - upscaled[1]).max() <= 1
    assert BaseGANModel(tmp_path / "gan", "cuda").sample(4, seed=0).shape[0] == 4


def test_a_cuda_checkpoint_resumes_on_the_cpu(data, tmp_path):
    run = tmp_path / "moved"
    common = ["pix2pix", "--data", str(data / "pairs"), "--out", str(run), "--steps", "4", *TINY_PIX2PIX]
    train([*common, "--device", "cuda", "--checkpoint-every", "2", "--steps", "2"])
    train([*common, "--device", "cpu", "--resume"])
    assert [row["step"] for row in logged(run) if "G/total" in row][-1] == 4
