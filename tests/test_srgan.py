"""SRResNet / SRGAN: architecture, losses, the VGG weights' provenance, tiled upscaling and the CLI."""

import json
import threading

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core_gan import download
from core_gan.errors import UserError
from core_gan.models import vgg as vgg_module
from core_gan.models.vgg import VGG_LAYERS, VGGFeatures, load_vgg_features
from core_gan.nn import count_parameters
from core_gan.tiling import run_tiled, to_hwc
from gansuite.cli import main
from gansuite.inference import Upscaler
from translation.srgan import (
    VGG_RESCALE,
    ContentLoss,
    SRGANDiscriminator,
    SRLoss,
    SRObjective,
    SRResNet,
    SRResNetConfig,
    icnr_,
)

TINY = SRResNetConfig(scale=4, features=8, blocks=1)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_output_is_scale_times_larger_with_log2_pixel_shuffle_stages(scale):
    G = SRResNet(SRResNetConfig(scale=scale, features=8, blocks=2))
    assert G(torch.rand(2, 3, 7, 5)).shape == (2, 3, 7 * scale, 5 * scale)
    assert sum(isinstance(m, nn.PixelShuffle) for m in G.modules()) == {2: 1, 4: 2, 8: 3}[scale]


def test_srresnet_x4_has_the_papers_layout_and_about_1_55m_parameters():
    G = SRResNet()
    assert count_parameters(G) == 1_547_350  # 16 blocks of 64 channels; convs before BN carry no bias
    assert G.head[0].kernel_size == (9, 9) and G.tail.kernel_size == (9, 9)
    assert isinstance(G.head[1], nn.PReLU) and len(G.blocks) == 16
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 2 * 16 + 1
    no_bn = SRResNet(SRResNetConfig(batch_norm=False))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.modules())


def test_icnr_makes_subpixel_convolution_start_as_nearest_neighbour_upsampling():
    conv = nn.Conv2d(8, 8 * 4, 3, padding=1)
    icnr_(conv, 2)
    out = F.pixel_shuffle(conv(torch.randn(1, 8, 6, 6)), 2)
    blocks = out.unfold(2, 2, 2).unfold(3, 2, 2)  # (1, 8, 6, 6, 2, 2): each 2x2 sub-pixel block
    assert torch.allclose(blocks, blocks[..., :1, :1].expand_as(blocks))
    nn.init.kaiming_normal_(conv.weight)
    out = F.pixel_shuffle(conv(torch.randn(1, 8, 6, 6)), 2).unfold(2, 2, 2).unfold(3, 2, 2)
    assert not torch.allclose(out, out[..., :1, :1].expand_as(out))


@pytest.mark.parametrize("crop", [48, 96, 128])
def test_discriminator_takes_any_crop_size(crop):
    D = SRGANDiscriminator()
    convs = [m for m in D.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert D(torch.rand(2, 3, crop, crop)).shape == (2, 1)


def test_vgg_content_layers_are_the_papers_feature_maps():
    """phi_5,4: after the 4th conv (and ReLU) before the 5th max-pool; phi_2,2 likewise in block 2."""
    for layer, convs, width in (("vgg54", 16, 512), ("vgg22", 4, 128)):
        features = VGGFeatures(layer).features
        conv_layers = [m for m in features if isinstance(m, nn.Conv2d)]
        assert len(conv_layers) == convs and conv_layers[-1].out_channels == width
        assert isinstance(features[-1], nn.ReLU) and isinstance(features[-2], nn.Conv2d)
        assert sum(isinstance(m, nn.MaxPool2d) for m in features) == int(layer[3]) - 1
    preact = VGGFeatures("vgg54-preact").features  # ESRGAN: conv5_4 before its activation
    assert isinstance(preact[-1], nn.Conv2d) and preact[-1].out_channels == 512 and len(preact) == 35
    assert VGG_LAYERS == {"vgg22": 9, "vgg54": 36, "vgg54-preact": 35}


def test_missing_vgg_weights_offline_stop_with_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(download.urllib.request, "urlopen", _refuse_network)
    with pytest.raises(UserError) as e:
        load_vgg_features("vgg54")
    message = str(e.value)
    for fragment in (vgg_module.VGG19_FILE, vgg_module.VGG19_URL, str(tmp_path), "--vgg-weights"):
        assert fragment in message
    assert "\n" not in message
    with pytest.raises(UserError, match=r"--vgg-weights .*nowhere\.pth: no such file"):
        load_vgg_features("vgg54", tmp_path / "nowhere.pth")


def _refuse_network(*args, **kwargs):
    raise download.urllib.error.URLError("network is unreachable")


def test_vgg_weights_download_into_the_cache_and_load(tmp_path, monkeypatch, http_server, random_vgg19_file):
    root, url = http_server
    weights = random_vgg19_file(root / vgg_module.VGG19_FILE)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(vgg_module, "VGG19_URL", f"{url}/{vgg_module.VGG19_FILE}")
    monkeypatch.setattr(vgg_module, "VGG19_SHA256", download.sha256_of(weights)[:8])
    model = load_vgg_features("vgg22")
    assert (tmp_path / "home" / "hub" / "checkpoints" / vgg_module.VGG19_FILE).is_file()
    state = torch.load(weights, weights_only=True)
    assert torch.equal(model.features[7].weight, state["features.7.weight"])
    assert not any(p.requires_grad for p in model.parameters())
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="not torchvision's VGG19 weights"):
        load_vgg_features("vgg22", tmp_path / "other.pth")


def test_content_losses_follow_eq_4_and_5():
    sr, hr = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    assert torch.allclose(ContentLoss("mse")(sr, hr), ((sr - hr) ** 2).mean())
    assert torch.allclose(ContentLoss("l1")(sr, hr), (sr - hr).abs().mean())
    vgg = VGGFeatures("vgg22")
    expected = ((vgg(sr) - vgg(hr)) ** 2).mean() * VGG_RESCALE**2
    assert torch.allclose(ContentLoss("vgg22", vgg)(sr, hr), expected)
    with pytest.raises(ValueError, match="needs the VGG19"):
        ContentLoss("vgg54")


def test_srgan_loss_is_content_plus_1e_3_adversarial_and_srresnet_has_no_d():
    G, D = SRResNet(TINY), SRGANDiscriminator(features=8)
    lr, hr = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    batch = (lr, hr)
    stage1 = SRObjective(G, D, SRLoss("mse", 0.0), ContentLoss("mse"), batch)
    assert len(stage1.discriminators) == 0 and set(stage1.g_loss(batch)) == {"content", "total"}
    gan = SRObjective(G, D, SRLoss("mse", 1e-3), ContentLoss("mse"), batch)
    d = gan.d_loss(batch)
    sr = G(lr)
    expected_d = F.softplus(-D(hr)).mean() + F.softplus(D(sr)).mean()
    assert torch.allclose(d["total"], expected_d, atol=1e-5)
    g = gan.g_loss(batch)
    assert torch.allclose(g["content"], F.mse_loss(sr, hr), atol=1e-6)
    assert torch.allclose(g["adv"], 1e-3 * F.softplus(-D(sr)).mean(), atol=1e-7)
    assert torch.allclose(g["total"], g["content"] + g["adv"])
    assert gan.preview(gan.generators, 2, 0).shape == (6, 3, 32, 32)


def _tiny_network(scale=4):
    G = SRResNet(SRResNetConfig(scale=scale, features=8, blocks=1)).eval()
    return lambda x: (G(x * 2 - 1) + 1) / 2


def _seam(image, positions, axis):
    """Largest jump between neighbouring pixels across the given output rows/columns."""
    x = image.astype(np.float64)
    d = np.abs(np.diff(x, axis=axis))
    return max(np.take(d, p - 1, axis=axis).max() for p in positions)


def test_tiled_equals_untiled_away_from_borders_and_leaves_no_seam():
    network = _tiny_network()  # receptive field < 16 px: an overlap of 32 gives every tile full context
    image = torch.rand(3, 70, 90)
    whole = run_tiled(network, image, 4, tile=0, dtype=np.float32)
    tiled = run_tiled(network, image, 4, tile=32, overlap=32 - 1, dtype=np.float32)
    assert tiled.shape == whole.shape == (280, 360, 3)
    assert np.abs(tiled - whole).max() < 1e-4
    boundaries = [32 * 4, 64 * 4]
    for axis in (0, 1):
        assert _seam(tiled, boundaries, axis) <= _seam(whole, boundaries, axis) + 1e-4
    no_context = run_tiled(network, image, 4, tile=32, overlap=0, dtype=np.float32)
    assert np.abs(no_context - whole).max() > 1e-2  # the test can fail: without context tiles differ


def test_tiles_report_progress_and_overlap_must_be_smaller_than_the_tile():
    calls = []
    run_tiled(_tiny_network(2), torch.rand(3, 40, 50), 2, tile=16, overlap=4, progress=lambda d, t: calls.append(d))
    assert calls == list(range(1, 3 * 4 + 1))
    with pytest.raises(ValueError, match="overlap"):
        run_tiled(_tiny_network(2), torch.rand(3, 8, 8), 2, tile=16, overlap=16)


def test_an_image_within_one_tile_is_run_whole_and_reports_one_tile():
    network, image, calls = _tiny_network(2), torch.rand(3, 16, 12), []
    one_tile = run_tiled(network, image, 2, tile=16, overlap=4, progress=lambda d, t: calls.append((d, t)))
    with torch.no_grad():
        np.testing.assert_array_equal(one_tile, to_hwc(network(image[None])[0]))
    assert calls == [(1, 1)]
    assert one_tile.shape == (32, 24, 3) and one_tile.dtype == np.uint8


@pytest.fixture(scope="module")
def sr_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sr")
    rng = np.random.default_rng(0)
    for split, n in (("hr", 3), ("val", 2)):
        (root / split).mkdir()
        for i in range(n):
            smooth = rng.random((12, 12, 3)) * 255
            image = Image.fromarray(smooth.astype(np.uint8)).resize((40 + 8 * i, 48), Image.Resampling.BICUBIC)
            image.save(root / split / f"{i}.png")
    run = root / "run"
    args = ["train", "srresnet", "--data", str(root / "hr"), "--val-data", str(root / "val"), "--out", str(run),
            "--steps", "6", "--batch-size", "4", "--crop-size", "32", "--blocks", "1", "--features", "8",
            "--log-every", "3", "--checkpoint-every", "3", "--sample-every", "3"]  # fmt: skip
    assert main(args) == 0
    return root, run


def test_srresnet_training_records_params_validation_and_best(sr_run):
    run = sr_run[1]
    config = json.loads((run / "config.json").read_text())
    assert config["params"]["G"] == count_parameters(SRResNet(SRResNetConfig(scale=4, features=8, blocks=1)))
    assert "D" not in config["params"]
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "eval/psnr" in line]
    assert [e["step"] for e in evals] == [3, 6] and all(e["eval/psnr"] > 0 for e in evals)
    assert (run / "best" / "model.safetensors").is_file() and (run / "checkpoints" / "best.pt").is_file()


def test_srresnet_fine_tunes_from_an_init_run_whose_network_flags_cannot_change(sr_run, tmp_path):
    root, run = sr_run
    args = ["train", "srresnet", "--data", str(root / "hr"), "--init", str(run), "--out", str(tmp_path / "ft"),
            "--steps", "1", "--batch-size", "2", "--crop-size", "32", "--lr", "1e-30"]  # fmt: skip
    assert main(args) == 0
    start = safetensors.torch.load_file(run / "model.safetensors")
    tuned = safetensors.torch.load_file(tmp_path / "ft" / "model.safetensors")
    params = [k for k in start if "running_" not in k and "num_batches" not in k]  # BN statistics do move
    assert params and all(torch.equal(start[k], tuned[k]) for k in params), "at lr 1e-30 G stays where --init left it"
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["model"]["config"]["features"] == 8
    for flag in (["--features", "16"], ["--arch", "rrdb"]):
        assert main([*args[:-2], *flag, "--out", str(tmp_path / "x")]) == 2


def test_srgan_stage_starts_from_the_srresnet_weights(sr_run, tmp_path):
    root, run = sr_run
    args = ["train", "srgan", "--data", str(root / "hr"), "--init", str(run), "--out", str(tmp_path / "gan"),
            "--steps", "2", "--batch-size", "2", "--crop-size", "32", "--content-loss", "l1",
            "--log-every", "1"]  # fmt: skip
    assert main(args) == 0
    config = json.loads((tmp_path / "gan" / "config.json").read_text())
    assert set(config["params"]) == {"G", "D"}
    assert config["model"]["config"]["features"] == 8
    assert main([*args[:-4], "--scale", "2", "--out", str(tmp_path / "x")]) == 2


def test_srgan_without_vgg_weights_exits_2_naming_the_file(sr_run, tmp_path, monkeypatch, capsys):
    root, run = sr_run
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(download.urllib.request, "urlopen", _refuse_network)
    args = ["train", "srgan", "--data", str(root / "hr"), "--init", str(run), "--out", str(tmp_path / "gan"),
            "--steps", "1", "--batch-size", "2", "--crop-size", "32"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and vgg_module.VGG19_FILE in err and "\n" not in err
    assert not (tmp_path / "gan" / "model.safetensors").exists()


def test_upscale_cli_any_size_and_bicubic(sr_run, tmp_path, capsys):
    run = sr_run[1]
    Image.fromarray(np.full((13, 21, 3), 90, np.uint8)).save(tmp_path / "odd.png")
    assert main(["upscale", str(run), str(tmp_path / "odd.png"), "--out", str(tmp_path / "out"), "--tile", "8",
                 "--tile-overlap", "4"]) == 0  # fmt: skip
    assert Image.open(tmp_path / "out" / "odd.png").size == (84, 52)
    assert main(["upscale", "bicubic", str(tmp_path / "odd.png"), "--out", str(tmp_path / "b"), "--scale", "2"]) == 0
    assert Image.open(tmp_path / "b" / "odd.png").size == (42, 26)
    assert main(["upscale", str(run), str(tmp_path / "odd.png"), "--out", str(tmp_path / "c"), "--scale", "2"]) == 2
    assert "x4 model" in capsys.readouterr().err
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert main(["upscale", "bicubic", str(tmp_path / "bad.png"), "--out", str(tmp_path / "d")]) == 2
    assert "bad.png: cannot read image" in capsys.readouterr().err


def test_upscaler_keeps_gray_and_alpha_and_rejects_other_arrays(sr_run):
    model = Upscaler(sr_run[1])
    rgb = np.random.default_rng(0).integers(0, 256, (10, 12, 3)).astype(np.uint8)
    gray = model(rgb[..., 0])
    assert gray.shape == (40, 48) and gray.dtype == np.uint8
    opaque = model(np.dstack([rgb, np.full((10, 12), 255, np.uint8)]))
    assert opaque.shape == (40, 48, 4) and (opaque[..., 3] == 255).all()
    assert np.abs(opaque[..., :3].astype(int) - model(rgb).astype(int)).max() <= 1
    alpha = np.zeros((10, 12), np.uint8)
    alpha[:, 6:] = 255
    half = model(np.dstack([rgb, alpha]))
    assert (half[:, :20, 3] == 0).all() and (half[:, 28:, 3] == 255).all()
    with pytest.raises(UserError, match="expected a uint8 image"):
        model(rgb.astype(np.float32))


def test_concurrent_calls_get_their_own_results(sr_run):
    model = Upscaler(sr_run[1])
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (20 + i, 24, 3)).astype(np.uint8) for i in range(4)]
    expected = [model(im, tile=8, overlap=4) for im in images]
    results: dict[int, np.ndarray] = {}

    def work(i):
        for _ in range(3):
            results[i] = model(images[i], tile=8, overlap=4)
            assert np.array_equal(results[i], expected[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[i], expected[i]) for i in range(4))


def test_an_error_inside_a_tile_stops_the_call_with_a_message(sr_run):
    model = Upscaler(sr_run[1])
    calls = {"n": 0}
    network = model.network

    def failing(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("out of memory")
        return network(x)

    model.network = failing
    with pytest.raises(UserError, match=r"failed: tile at x=\d+, y=\d+: out of memory"):
        model(np.zeros((20, 20, 3), np.uint8), tile=8, overlap=2)


def test_srresnet_honours_the_learning_rate_decay_flags(sr_run, tmp_path):
    root = sr_run[0]
    args = ["train", "srresnet", "--data", str(root / "hr"), "--out", str(tmp_path / "run"), "--steps", "4",
            "--decay-steps", "2", "--lr", "1e-3", "--batch-size", "2", "--crop-size", "16", "--blocks", "1",
            "--features", "4", "--log-every", "1"]  # fmt: skip
    assert main(args) == 0
    lrs = {m["step"]: m["lr"] for m in map(json.loads, (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())}
    assert lrs[1] == pytest.approx(1e-3) and lrs[3] == pytest.approx(5e-4) and lrs[4] == 0
