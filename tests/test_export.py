"""gansuite export: ONNX with free height and width, TorchScript, safetensors; the onnxruntime backend."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import onnx
import pytest
import safetensors
import safetensors.torch
import torch

from core_gan.checkpoint import save_inference
from core_gan.errors import UserError
from gansuite.cli import main
from gansuite.export import load_export_target, onnx_max_abs_diff
from gansuite.inference import Translator, Upscaler
from gansuite.registry import build
from translation.cyclegan import CycleGANConfig
from translation.pix2pix import Pix2PixConfig
from translation.srgan import SRResNetConfig


def make_run(path, model, config):
    """A run folder as training leaves it (untrained weights: parity does not need trained ones)."""
    torch.manual_seed(0)
    generators, _ = build(model, config)
    save_inference(path, generators.state_dict(), {"model": model, "config": asdict(config)})
    return path


@pytest.fixture(autouse=True)
def _hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return {
        "unet": make_run(root / "unet", "pix2pix", Pix2PixConfig(netG="unet_64", ngf=8, ndf=8)),
        "srresnet": make_run(root / "sr", "srresnet", SRResNetConfig(scale=2, features=8, blocks=2)),
        "cyclegan": make_run(root / "cyc", "cyclegan", CycleGANConfig(netG="resnet_6blocks", ngf=8, ndf=8)),
    }


@pytest.mark.parametrize("name", ["unet", "srresnet"])
def test_onnx_matches_pytorch_on_two_input_sizes(runs, tmp_path, name):
    out = tmp_path / f"{name}.onnx"
    assert main(["export", str(runs[name]), "--format", "onnx", "--out", str(out)]) == 0
    target = load_export_target(runs[name])
    assert onnx_max_abs_diff(out, target, sizes=(64, 128)) <= 1e-3
    graph = onnx.load(str(out)).graph
    height = graph.input[0].type.tensor_type.shape.dim[2]
    assert height.dim_param and not height.dim_value, "height is symbolic, not fixed at export"


def test_onnx_of_cyclegan_holds_the_chosen_generator_and_model_json(runs, tmp_path):
    out = tmp_path / "ba.onnx"
    assert main(["export", str(runs["cyclegan"]), "--format", "onnx", "--direction", "BtoA", "--out", str(out)]) == 0
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["gansuite"])
    assert meta["model"] == "cyclegan" and meta["generator"] == "G_BA"


def test_torchscript_runs_any_size_like_the_module(runs, tmp_path):
    out = tmp_path / "g.pt"
    assert main(["export", str(runs["srresnet"]), "--format", "torchscript", "--out", str(out)]) == 0
    module = load_export_target(runs["srresnet"]).module
    with pytest.warns(FutureWarning):
        loaded = torch.jit.load(str(out))
    for h, w in ((16, 16), (20, 36)):
        x = torch.rand(1, 3, h, w) * 2 - 1
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), module(x))
            assert loaded(x).shape == (1, 3, 2 * h, 2 * w)


def test_safetensors_holds_the_generator_and_its_model_json(runs, tmp_path):
    out = tmp_path / "g.safetensors"
    assert main(["export", str(runs["cyclegan"]), "--format", "safetensors", "--out", str(out)]) == 0
    tensors = safetensors.torch.load_file(out)
    expected = load_export_target(runs["cyclegan"]).module.state_dict()
    assert tensors.keys() == expected.keys()
    assert all(torch.equal(tensors[k], expected[k]) for k in tensors)
    with safetensors.safe_open(out, "pt") as f:
        assert json.loads(f.metadata()["gansuite"])["generator"] == "G_AB"


def test_onnxruntime_backend_gives_the_same_images(runs):
    image = np.random.default_rng(0).integers(0, 256, (40, 52, 3)).astype(np.uint8)
    torch_out = Translator(runs["unet"])(image)
    ort_out = Translator(runs["unet"], backend="onnxruntime")(image)
    assert np.abs(torch_out.astype(int) - ort_out).max() <= 1
    up_torch = Upscaler(runs["srresnet"])(image, tile=0)
    up_ort = Upscaler(runs["srresnet"], backend="onnxruntime")(image, tile=0)
    assert up_ort.shape == (80, 104, 3) and np.abs(up_torch.astype(int) - up_ort).max() <= 1


def test_bad_export_requests_are_one_line_errors(runs, tmp_path, monkeypatch, capsys):
    with pytest.raises(UserError, match="--paper-test-mode needs --backend torch"):
        Translator(runs["unet"], paper_test_mode=True, backend="onnxruntime")
    assert main(["export", str(runs["srresnet"]), "--format", "onnx", "--direction", "BtoA", "--out", "x"]) == 2
    assert "has one generator" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    assert main(["export", str(runs["unet"]), "--format", "onnx", "--out", str(tmp_path / "u.onnx")]) == 2
    assert "pip install 'gansuite[export]'" in capsys.readouterr().err
    assert not (tmp_path / "u.onnx").exists()
