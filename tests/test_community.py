"""Community super-resolution models through spandrel: three architectures built by spandrel's own
classes with random weights, as .pth and .safetensors, upscaled by the CLI (whole and tiled), by an
imported run and by the app, against spandrel's own forward."""

import numpy as np
import pytest
import safetensors.torch
import spandrel
import torch
from PIL import Image
from spandrel.architectures.Compact import Compact
from spandrel.architectures.SPAN import SPAN
from spandrel.architectures.SwinIR import SwinIR

from apps.common import UNSEEN_PHOTOS, load_models
from apps.sr import upscale as app_upscale
from core_gan.errors import UserError
from gansuite.cli import main
from gansuite.inference import Upscaler

ARCHITECTURES = {
    "RealESRGAN Compact": lambda: Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=4, upscale=2),
    "SPAN": lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=16, upscale=2),
    "SwinIR": lambda: SwinIR(img_size=32, embed_dim=12, depths=[2, 2], num_heads=[2, 2], window_size=4, upscale=2,
                             upsampler="pixelshuffledirect", mlp_ratio=2.0),
}  # fmt: skip


def spandrel_own(state: dict, image: np.ndarray) -> np.ndarray:
    """spandrel's own forward (its ModelLoader on the same weights) as float (H, W, 3) in [0, 1]."""
    model = spandrel.ModelLoader().load_from_state_dict(state).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    return out[0].permute(1, 2, 0).numpy()


@pytest.fixture
def image(tmp_path):
    pixels = np.asarray(Image.open(UNSEEN_PHOTOS / "astronaut.jpg").convert("RGB"))[100:148, 140:196]
    Image.fromarray(pixels).save(tmp_path / "in.png")
    return tmp_path / "in.png", np.array(pixels)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_upscale_a_model_file_whole_and_tiled(arch, suffix, tmp_path, image):
    torch.manual_seed(0)
    state = ARCHITECTURES[arch]().state_dict()
    path = tmp_path / f"model{suffix}"
    if suffix == ".pth":
        torch.save({"params_ema": state}, path)  # BasicSR's wrapping, as many published files have it
    else:
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, path)
    source, pixels = image
    expected = spandrel_own(state, pixels)
    model = Upscaler(path)
    assert model.scale == 2
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ours = model.network(x)[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - expected).max() <= 1e-4
    assert main(["upscale", str(path), str(source), "--out", str(tmp_path / "whole"), "--tile", "0"]) == 0
    assert main(["upscale", str(path), str(source), "--out", str(tmp_path / "tiled"), "--tile", "24",
                 "--tile-overlap", "16"]) == 0  # fmt: skip
    whole = np.asarray(Image.open(tmp_path / "whole/in.png")).astype(int)
    tiled = np.asarray(Image.open(tmp_path / "tiled/in.png")).astype(int)
    assert np.abs(whole - np.rint(expected.clip(0, 1) * 255)).max() <= 1
    assert np.abs(tiled - whole).max() <= 1, "tiles are seamless"
    assert whole.std() > 5


def test_imported_run_is_served_by_the_app(tmp_path, image, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    torch.manual_seed(1)
    state = ARCHITECTURES["SwinIR"]().state_dict()
    torch.save(state, tmp_path / "4xTiny_SwinIR.pth")
    assert main(["weights", "import", "sr", "--from", str(tmp_path / "4xTiny_SwinIR.pth")]) == 0
    source, pixels = image
    models = load_models(["sr-4xTiny_SwinIR"], bundled=False)
    assert "sr-4xTiny_SwinIR x2" in models.upscalers and "SwinIR" in models.card("sr-4xTiny_SwinIR x2")
    (_, shown), path = app_upscale(models, str(source), "sr-4xTiny_SwinIR x2", progress=lambda *a, **k: None)
    with Image.open(path) as im:
        result = np.asarray(im)
    assert shown == path
    assert np.abs(result.astype(int) - np.rint(spandrel_own(state, pixels).clip(0, 1) * 255)).max() <= 1


def test_files_that_are_not_plain_weights_or_not_sr_are_refused(tmp_path, capsys):
    torch.save(ARCHITECTURES["SPAN"](), tmp_path / "pickled_module.pth")  # a pickle of code and objects
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    upscale = ["upscale", str(tmp_path / "pickled_module.pth"), str(tmp_path / "x.png"), "--out", str(tmp_path / "o")]
    assert main(upscale) == 2
    assert "refused: not plain weights" in capsys.readouterr().err
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "unknown.pth")
    assert main(["weights", "import", "sr", "--from", str(tmp_path / "unknown.pth")]) == 2
    assert "not an architecture spandrel recognises" in capsys.readouterr().err
    assert main(["weights", "import", "sr"]) == 2
    assert "--from FILE" in capsys.readouterr().err
    torch.save(ARCHITECTURES["RealESRGAN Compact"]().state_dict(), tmp_path / "compact.pth")
    with pytest.raises(UserError, match=r"--scale 4: .* is a x2 model"):
        Upscaler(tmp_path / "compact.pth", scale=4)
