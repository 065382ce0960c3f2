"""pix2pix: the paper's networks, objective weights, overfitting, inference and the CLI round trip."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from core_gan.image_losses import colour_loss, gaussian_blur, gradient_map, structure_loss
from core_gan.losses import GANLoss
from core_gan.models.translators import PatchDiscriminator, make_generator, upsampling
from core_gan.nn import count_parameters, init_weights
from gansuite.cli import main
from gansuite.inference import Translator
from translation.pix2pix import (
    Pix2PixConfig,
    Pix2PixLoss,
    Pix2PixObjective,
    build_discriminator,
    build_generator,
)


def test_parameter_counts_match_the_reference_implementation():
    assert count_parameters(build_generator(Pix2PixConfig())) == 54_413_955
    assert count_parameters(build_discriminator(Pix2PixConfig())) == 2_768_705
    # CycleGAN's networks, shared: resnet_9blocks and the unconditional PatchGAN with instance norm.
    assert count_parameters(make_generator("resnet_9blocks", 3, 3, 64, "instance", False)) == 11_378_179
    assert count_parameters(PatchDiscriminator(3, 64, 3, "instance")) == 2_764_737


@pytest.mark.parametrize("name, size", [("unet_128", 128), ("unet_32", 32), ("resnet_6blocks", 36)])
def test_generators_keep_the_input_size(name, size):
    G = make_generator(name, 3, 3, 4, "batch", True)
    assert G(torch.randn(1, 3, size, size)).shape == (1, 3, size, size)


@pytest.mark.parametrize("name, size", [("unet_32", 32), ("resnet_6blocks", 36)])
def test_resize_upsampling_replaces_every_transposed_convolution(name, size):
    G = make_generator(name, 3, 3, 4, "instance", False, upsample="resize")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.modules())
    assert sum(isinstance(m, torch.nn.Upsample) for m in G.modules()) == (5 if name == "unet_32" else 2)
    assert G(torch.randn(1, 3, size, size)).shape == (1, 3, size, size)


def test_a_flat_map_stays_flat_through_resize_conv_but_not_through_a_strided_transposed_conv():
    """Odena et al. 2016: a stride-2 4x4 transposed kernel overlaps unevenly, so even a constant input
    comes out as a period-2 pattern; bilinear resize + 3x3 conv cannot make one."""
    torch.manual_seed(0)
    flat = torch.ones(1, 8, 8, 8)
    for kind, periodic in (("transpose", True), ("resize", False)):
        out = upsampling(8, 4, kind, bias=False, kernel=4)(flat)[..., 2:-2, 2:-2]  # away from the zero padding
        assert out.shape[-1] == 12
        assert (out.std(dim=(-2, -1)).max() > 1e-3) == periodic, kind


def test_unet_dropout_sits_in_the_three_innermost_decoder_blocks():
    G = make_generator("unet_256", 3, 3, 4, "batch", True)
    with_dropout = [i for i, block in enumerate(G.up) if any(isinstance(m, torch.nn.Dropout) for m in block)]
    assert with_dropout == [4, 5, 6]


def test_pixelgan_and_n_layers_discriminators():
    assert PatchDiscriminator(6, 8, 0)(torch.randn(1, 6, 16, 16)).shape == (1, 1, 16, 16)
    assert PatchDiscriminator(6, 8, 3)(torch.randn(1, 6, 256, 256)).shape == (1, 1, 30, 30)  # 70x70 patches


PAPER_LOSS = Pix2PixLoss()


def _objective(loss: Pix2PixLoss = PAPER_LOSS):
    torch.manual_seed(0)
    config = Pix2PixConfig(netG="unet_32", ngf=4, ndf=4)
    G, D = build_generator(config), build_discriminator(config)
    init_weights(G)
    init_weights(D)
    pair = (torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1)
    return Pix2PixObjective(G, D, loss, pair), pair


def test_the_conditioned_discriminator_sees_input_and_output_six_channels():
    objective, pair = _objective()
    D = objective.discriminators["D"]
    assert D.net[0][0].in_channels == 6
    seen = []
    D.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    objective.d_loss(pair)
    assert all(s.shape[1] == 6 for s in seen)
    assert any(torch.equal(s[:, :3], pair[0]) and torch.equal(s[:, 3:], pair[1]) for s in seen)


def test_loss_terms_have_the_papers_weights():
    objective, (x, y) = _objective()
    G, D = objective.generators["G"], objective.discriminators["D"]
    d = objective.d_loss((x, y))
    fake = G(x)
    gan = GANLoss("nonsaturating")
    expected_d = 0.5 * gan.d_loss(D(torch.cat([x, y], 1)), D(torch.cat([x, fake], 1)))
    assert d["total"].item() == pytest.approx(expected_d.item(), rel=1e-5)
    g = objective.g_loss((x, y))
    assert g["l1"].item() == pytest.approx(100 * F.l1_loss(fake, y).item(), rel=1e-5)
    assert g["adv"].item() == pytest.approx(gan.g_loss(D(torch.cat([x, fake], 1))).item(), rel=1e-5)
    assert g["total"].item() == pytest.approx(g["adv"].item() + g["l1"].item(), rel=1e-6)


def test_the_gradient_term_is_off_by_default_and_weighs_the_gradient_maps_l1():
    objective, pair = _objective()
    assert "gradient" not in objective.g_loss(pair)
    objective, (x, y) = _objective(Pix2PixLoss(lambda_gradient=7.0, gradient_sigma=1.5))
    g = objective.g_loss((x, y))
    maps = gradient_map(objective.generators["G"](x), 1.5), gradient_map(y, 1.5)
    assert g["gradient"].item() == pytest.approx(7 * F.l1_loss(*maps).item(), rel=1e-5)
    assert g["total"].item() == pytest.approx(g["adv"].item() + g["l1"].item() + g["gradient"].item(), rel=1e-6)


def test_the_structure_and_colour_terms_are_off_by_default_and_weighted_when_on():
    objective, pair = _objective()
    assert not {"ssim", "colour"} & objective.g_loss(pair).keys()
    objective, (x, y) = _objective(Pix2PixLoss(lambda_ssim=3.0, lambda_colour=5.0))
    g = objective.g_loss((x, y))
    fake = objective.generators["G"](x)
    assert g["ssim"].item() == pytest.approx(3 * structure_loss(fake, y).item(), rel=1e-5)
    assert g["colour"].item() == pytest.approx(5 * colour_loss(fake, y).item(), rel=1e-5)
    assert g["total"].item() == pytest.approx(sum(g[k].item() for k in ("adv", "l1", "ssim", "colour")), rel=1e-6)


def test_with_frequency_separation_d_sees_the_input_and_the_outputs_high_pass_and_no_region_colour():
    objective, (x, y) = _objective(Pix2PixLoss(gan_high_pass=2.0))
    seen = []
    objective.discriminators["D"].register_forward_hook(lambda module, args, out: seen.append(args[0]))
    critic = objective._critic(x)
    critic(y)
    assert torch.equal(seen[0][:, :3], x)
    assert torch.allclose(seen[0][:, 3:], y - gaussian_blur(y, 2.0))
    assert torch.allclose(critic(y + 0.3), critic(y), atol=1e-5)
    paper, _ = _objective()
    assert not torch.allclose(paper._critic(x)(y + 0.3), paper._critic(x)(y), atol=1e-3)


def test_g_step_reuses_the_d_steps_forward_pass():
    objective, pair = _objective()
    calls = []
    objective.generators["G"].register_forward_hook(lambda *a: calls.append(1))
    objective.d_loss(pair)
    objective.g_loss(pair)
    assert len(calls) == 1
    objective.g_loss(pair)  # a batch without a D step first: G runs again
    assert len(calls) == 2


def test_thirty_steps_overfit_one_pair_halving_l1(tmp_path):
    from core_gan.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    config = Pix2PixConfig(netG="unet_32", ngf=16, ndf=8, dropout=False)
    G, D = build_generator(config), build_discriminator(config)
    init_weights(G)
    init_weights(D)
    x = F.interpolate(torch.rand(1, 3, 4, 4) * 2 - 1, size=32, mode="bilinear")  # a smooth input
    pair = (x, -x.flip(1))
    objective = Pix2PixObjective(G, D, Pix2PixLoss(), pair)
    before = F.l1_loss(G(x), pair[1]).item()
    config = TrainConfig(steps=30, batch_size=1, lr_g=1e-3, device="cpu", log_every=10, sample_every=30,
                         checkpoint_every=30)  # fmt: skip
    ds = torch.utils.data.TensorDataset(*pair)
    Trainer(objective, ds, tmp_path / "run", config, {"model": "pix2pix"}).fit()
    after = F.l1_loss(G(x), pair[1]).item()  # batch statistics, as during training
    assert after < 0.5 * before


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("p2p")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / "data" / split).mkdir(parents=True)
        for i in range(2):
            a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / "data" / split / f"{i}.png")
    out = root / "run"
    args = ["train", "pix2pix", "--data", str(root / "data"), "--out", str(out), "--netG", "unet_64", "--ngf", "4",
            "--ndf", "4", "--steps", "4", "--log-every", "2", "--sample-every", "4", "--checkpoint-every", "2",
            "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    return root, out


def test_training_writes_params_validation_and_best(trained_run):
    _, run = trained_run
    config = json.loads((run / "config.json").read_text())
    assert config["params"]["D"] == count_parameters(PatchDiscriminator(6, 4, 3, "batch"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/psnr" in r] == [2, 4]
    assert (run / "best/model.safetensors").is_file() and (run / "checkpoints/best.pt").is_file()


def test_translate_any_size_deterministic_and_round_trip(trained_run, tmp_path, capsys):
    root, run = trained_run
    model = Translator(run)
    odd = np.random.default_rng(1).integers(0, 256, (37, 50, 3)).astype(np.uint8)
    out = model(odd)
    assert out.shape == (37, 50, 3) and out.dtype == np.uint8
    assert np.array_equal(out, model(odd)), "eval mode is deterministic"
    noisy = Translator(run, paper_test_mode=True)
    assert not np.array_equal(noisy(odd), noisy(odd)), "the paper's test mode keeps dropout"
    assert main(["translate", str(run), str(root / "data/val"), "--paired", "--out", str(tmp_path / "o")]) == 0
    index = (tmp_path / "o/index.html").read_text()
    assert index.count("<tr>") == 3 and "target" in index
    a = np.asarray(Image.open(tmp_path / "o/00000_0_input.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o/00000_0_output.png")), model(a))
    assert (
        main(["translate", str(run), str(root / "data/val"), "--out", str(tmp_path / "p"), "--direction", "BtoA"]) == 2
    )
    assert "trained AtoB" in capsys.readouterr().err


def test_eval_run_writes_eval_json(trained_run, capsys):
    root, run = trained_run
    assert main(["eval", "run", str(run), "--data", str(root / "data"), "--split", "val", "--json"]) == 0
    result = json.loads((run / "eval.json").read_text())
    assert result["n"] == 2 and {"l1", "psnr", "ssim"} <= result.keys() and 0 < result["l1"] < 2


def test_eval_run_adds_fid_and_kid_when_inception_weights_are_given(trained_run, tmp_path):
    from core_gan.metrics.inception import FIDInceptionV3

    root, run = trained_run
    torch.save(FIDInceptionV3().state_dict(), tmp_path / "random_inception.pth")  # random weights: offline test
    args = ["eval", "run", str(run), "--data", str(root / "data"), "--split", "val",
            "--weights", str(tmp_path / "random_inception.pth"), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    result = json.loads((run / "eval.json").read_text())
    assert np.isfinite(result["fid"]) and "kid" in result and result["resize"] == "legacy"


def test_translate_warns_in_one_line_when_an_input_looks_like_a_pair(trained_run, tmp_path):
    import warnings

    root, run = trained_run
    pair = next((root / "data" / "val").iterdir())  # 64 x 32: A | B side by side
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["translate", str(run), str(pair), "--out", str(tmp_path / "o")]) == 0
        assert main(["translate", str(run), str(pair), "--paired", "--out", str(tmp_path / "p")]) == 0
    messages = [str(w.message) for w in caught if "looks like an A|B pair" in str(w.message)]
    assert len(messages) == 1, "warned once, and not with --paired"
    assert "\n" not in messages[0] and "--paired" in messages[0] and pair.name in messages[0]
