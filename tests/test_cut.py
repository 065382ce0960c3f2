"""CUT and FastCUT (translation/cut.py): PatchNCE against closed forms, its sampling, the lazily
created head through save and resume, flip equivariance, the reference parameter counts, and the
command line end to end."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import safetensors.torch
import torch
from helpers.runs import assert_same_networks, full_and_resumed, unpaired_images
from PIL import Image
from torch import nn

from core_gan.models.translators import sequential_features
from core_gan.nn import count_parameters
from core_gan.trainer import TrainConfig, Trainer
from gansuite.cli import main
from gansuite.inference import Translator
from gansuite.registry import build
from translation.cut import (
    CUTConfig,
    CUTLoss,
    CUTObjective,
    patch_nce_loss,
    sample_places,
)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def test_patchnce_of_uniform_logits_is_log_256():
    """Every q.k equal: the positive is one of 256 equal logits (the masked diagonal counts for nothing)."""
    u = _unit(torch.randn(1, 1, 256)).expand(2, 256, 256)
    assert patch_nce_loss(u, u).mean().item() == pytest.approx(math.log(256), rel=1e-5)


def test_patchnce_of_orthonormal_patches_is_255_exp_minus_1_over_tau():
    q = torch.eye(256)[None]
    loss = patch_nce_loss(q, q, tau=0.07).mean().item()
    # float32 log-softmax: log(1 + 1.6e-4) carries an absolute error of about 1e-7 (0.5 % here)
    assert loss == pytest.approx(math.log1p(255 * math.exp(-1 / 0.07)), rel=5e-3)
    assert loss == pytest.approx(255 * math.exp(-1 / 0.07), rel=5e-3)


def test_the_keys_carry_no_gradient():
    q, k = (_unit(torch.randn(2, 16, 8)).requires_grad_(True) for _ in range(2))
    patch_nce_loss(q, k).mean().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None


def test_negatives_are_patches_of_the_same_image_only():
    """Changing image 1's keys leaves image 0's losses unchanged."""
    q, k = _unit(torch.randn(2, 8, 4)), _unit(torch.randn(2, 8, 4))
    k2 = k.clone()
    k2[1] = _unit(torch.randn(8, 4))
    a, b = patch_nce_loss(q, k), patch_nce_loss(q, k2)
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])


def test_the_same_places_serve_every_image_and_both_queries_and_keys():
    objective, batch = _objective(CUTLoss(nce_layers="0,4,8", num_patches=5))
    objective.create_auxiliaries(batch)
    seen = []
    objective.auxiliaries["F"].register_forward_pre_hook(lambda _, args: seen.append(args[1]))
    x = batch[0]
    objective.patch_nce(x, objective.generators["G"](x), flipped=False)
    (q_places, k_places) = seen
    assert all(q is k for q, k in zip(q_places, k_places, strict=True)) and [len(p) for p in q_places] == [5, 5, 5]
    twins = torch.cat([x[:1], x[:1]])
    features = objective.generators["G"](twins, objective.layers)
    embedded = objective.auxiliaries["F"](features, sample_places(features, 5))
    assert all(torch.allclose(e[0], e[1], atol=1e-6) for e in embedded), "both images are sampled at the same places"
    # unit length but for the code's + 1e-7 in the norm, felt while fresh weights (gain 0.02) give norms ~1e-4
    assert all(((e.norm(dim=2) > 0.95) & (e.norm(dim=2) <= 1)).all() for e in embedded)


def test_sample_places_are_distinct_and_all_of_a_small_layer():
    features = [torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 20, 20)]
    small, large = sample_places(features, 64)
    assert sorted(small.tolist()) == list(range(16))
    assert len(large) == 64 and len(set(large.tolist())) == 64


class PixelwiseG(nn.Module):
    """A generator of 1x1 convolutions (so exactly flip-equivariant) with ResNetGenerator's interface."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(), nn.Conv2d(8, 3, 1))

    def forward(self, x, layers=()):
        return sequential_features(self.net, x, layers) if layers else self.net(x)


def test_flip_equivariance_flips_the_query_features_back():
    """For a flip-equivariant G, PatchNCE of G(flip x) with the queries flipped back equals PatchNCE of G(x);
    without flipping them back it differs: the path pairs each patch with its own mirror image."""
    loss = CUTLoss(nce_layers="0,2", num_patches=6, nce_idt=False, flip_equivariance=True)
    G = PixelwiseG()
    objective = CUTObjective({"G": G}, {"D": nn.Conv2d(3, 1, 1)}, loss, ())
    x = torch.randn(2, 3, 8, 8)
    objective.create_auxiliaries((x, x))

    def nce(output, flipped):
        torch.manual_seed(1)
        return objective.patch_nce(x, output, flipped)

    plain, flipped_back = nce(G(x), False), nce(G(x.flip(3)), True)
    assert flipped_back.item() == pytest.approx(plain.item(), rel=1e-5)
    assert abs(nce(G(x.flip(3)), False).item() - plain.item()) > 1e-3


def test_flip_equivariance_shows_g_the_batch_flipped_half_the_time():
    loss = CUTLoss(nce_layers="0,2", num_patches=4, nce_idt=False, flip_equivariance=True)
    G = PixelwiseG()
    objective = CUTObjective({"G": G}, {"D": nn.Conv2d(3, 1, 1)}, loss, ())
    x = torch.randn(1, 3, 4, 4)
    torch.manual_seed(0)
    draws = [objective.translate((x, x)) for _ in range(200)]
    flips = [f for _, _, f in draws]
    assert 70 < sum(flips) < 130
    fake, _, _ = next(d for d in draws if d[2])
    assert torch.allclose(fake, G(x.flip(3)))


def test_parameter_counts_match_the_reference_code_at_256px():
    generators, discriminators = build("cut", CUTConfig())
    assert count_parameters(generators["G"]) == 11_378_179
    assert count_parameters(discriminators["D"]) == 2_764_737
    objective = CUTObjective(dict(generators), dict(discriminators), CUTLoss(), ())
    with torch.no_grad():
        assert objective.create_auxiliaries((torch.zeros(1, 3, 256, 256),) * 2)
    assert count_parameters(objective.auxiliaries["F"]) == 560_384
    assert not objective.create_auxiliaries((torch.zeros(1, 3, 256, 256),) * 2), "created once"


def test_antialiased_sampling_keeps_flat_images_flat_and_sizes_as_strided_layers():
    from core_gan.models.translators import BlurDownsample, BlurUpsample

    flat = torch.full((1, 2, 8, 8), 0.3)
    assert torch.allclose(BlurDownsample(2)(flat), torch.full((1, 2, 4, 4), 0.3))
    assert torch.allclose(BlurUpsample(2)(flat), torch.full((1, 2, 16, 16), 0.3))
    G = build("cut", CUTConfig(netG="resnet_1blocks", ngf=4))[0]["G"]
    assert G(torch.zeros(1, 3, 20, 28)).shape == (1, 3, 20, 28)


def _objective(loss: CUTLoss, size: int = 32):
    torch.manual_seed(0)
    generators, discriminators = build("cut", CUTConfig(netG="resnet_1blocks", ngf=4, ndf=4))
    x = torch.rand(2, 3, size, size) * 2 - 1
    return CUTObjective(dict(generators), dict(discriminators), loss, (x, x)), (x, x.flip(1))


@pytest.mark.parametrize("loss", [CUTLoss(nce_layers="0,4,8", num_patches=8),
                                  CUTLoss(nce_layers="0,4,8", num_patches=8, lambda_nce=10, nce_idt=False,
                                          flip_equivariance=True)], ids=["cut", "fastcut"])  # fmt: skip
def test_resume_is_bitwise_identical_with_the_lazily_created_head(tmp_path, loss):
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    data = torch.utils.data.TensorDataset(x, x.flip(1))
    config = TrainConfig(steps=6, batch_size=2, device="cpu", log_every=1, sample_every=6, checkpoint_every=3)

    def trainer(run, steps):
        objective, _ = _objective(loss)
        assert len(objective.auxiliaries) == 0, "F does not exist before the first batch"
        return Trainer(objective, data, tmp_path / run, replace(config, steps=steps), {"model": "cut"})

    full, resumed = full_and_resumed(trainer)
    assert_same_networks(full, resumed, ("generators", "discriminators", "auxiliaries"))
    assert full.opt_aux is not None and resumed.opt_aux is not None
    steps = [s["step"] for s in resumed.opt_aux.state_dict()["state"].values()]
    assert all(int(s) == 6 for s in steps), "F's optimiser state was restored, then stepped"
    assert resumed.sched_aux.last_epoch == full.sched_aux.last_epoch == 6


@pytest.mark.parametrize("model", ["cut", "fastcut"])
def test_cli_train_translate_evaluate_and_export(tmp_path, capsys, model):
    unpaired_images(tmp_path / "data", 3, 36)
    out = tmp_path / "run"
    args = ["train", model, "--data", str(tmp_path / "data"), "--out", str(out), "--netG", "resnet_2blocks",
            "--ngf", "4", "--ndf", "4", "--crop-size", "32", "--steps", "3", "--log-every", "1", "--sample-every",
            "3", "--checkpoint-every", "2", "--nce-layers", "0,4,8,12", "--num-patches", "16"]  # fmt: skip
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["objective"]["lambda_nce"] == (1.0 if model == "cut" else 10.0)
    assert config["objective"]["nce_idt"] == (model == "cut")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert ("G/nce_Y" in rows[0]) == (model == "cut") and all(np.isfinite(r["G/nce_X"]) for r in rows)
    exported = safetensors.torch.load_file(out / "model.safetensors")
    assert exported and all(k.startswith("G.") for k in exported), "only G is exported: not D, not the PatchNCE head"
    with Image.open(sorted((out / "samples").glob("*.png"))[-1]) as grid:
        assert grid.width < 3 * 34 + 10, "the grid shows x | G(x): two columns"
    image = np.random.default_rng(2).integers(0, 256, (21, 18, 3)).astype(np.uint8)
    assert Translator(out)(image).shape == image.shape
    assert main(["translate", str(out), str(tmp_path / "data/testA"), "--out", str(tmp_path / "o")]) == 0
    assert main(["eval", "run", str(out), "--data", str(tmp_path / "data"), "--json"]) == 0
    assert json.loads((out / "eval.json").read_text())["n_A"] == 3
    assert main(["export", str(out), "--format", "torchscript", "--out", str(tmp_path / "g.pt")]) == 0
    capsys.readouterr()
    assert main(["translate", str(out), str(tmp_path / "data/testA"), "--direction", "BtoA",
                 "--out", str(tmp_path / "o2")]) == 2  # fmt: skip
    assert "--direction BtoA" in capsys.readouterr().err


def test_known_answer_scores_the_translation_against_the_images_of_the_same_name(tmp_path, capsys):
    unpaired_images(tmp_path / "data", 3, 36)
    out = tmp_path / "run"
    assert main(["train", "cut", "--data", str(tmp_path / "data"), "--out", str(out), "--netG", "resnet_1blocks",
                 "--ngf", "4", "--ndf", "4", "--crop-size", "32", "--steps", "1", "--nce-layers", "0,4",
                 "--num-patches", "4"]) == 0  # fmt: skip
    assert main(["eval", "run", str(out), "--data", str(tmp_path / "data"), "--known-answer", "--json"]) == 0
    result = json.loads((out / "eval.json").read_text())
    model = Translator(out)
    expected = []
    for i in range(3):
        a = np.asarray(Image.open(tmp_path / f"data/testA/{i}.png").convert("RGB"))
        b = np.asarray(Image.open(tmp_path / f"data/testB/{i}.png").convert("RGB")).astype(float)
        expected.append(10 * np.log10(255**2 / np.mean((model(a).astype(float) - b) ** 2)))
    assert result["AtoB_known_psnr"] == pytest.approx(np.mean(expected), rel=1e-6)
    (tmp_path / "data/testB/2.png").rename(tmp_path / "data/testB/x.png")
    capsys.readouterr()
    assert main(["eval", "run", str(out), "--data", str(tmp_path / "data"), "--known-answer", "--overwrite"]) == 2
    assert "2.png has no image of the same name" in capsys.readouterr().err


def test_cut_refuses_a_cyclegan_run_and_a_cyclegan_layout_checkpoint(tmp_path, capsys):
    unpaired_images(tmp_path / "data", 3, 36)
    common = ["--data", str(tmp_path / "data"), "--netG", "resnet_1blocks", "--ngf", "4", "--ndf", "4",
              "--crop-size", "32", "--steps", "1"]  # fmt: skip
    assert main(["train", "cyclegan", *common, "--out", str(tmp_path / "cg")]) == 0
    assert main(["train", "cut", *common, "--nce-layers", "0,4", "--out", str(tmp_path / "cut")]) == 0
    capsys.readouterr()
    init = ["train", "cut", "--data", str(tmp_path / "data"), "--init", str(tmp_path / "cg"), "--steps", "1"]
    assert main([*init, "--out", str(tmp_path / "x")]) == 2
    assert "is a cyclegan model" in capsys.readouterr().err
    # CycleGAN's G_AB (strided layers, no blur filters) under the anti-aliased CUT's model.json
    weights = safetensors.torch.load_file(tmp_path / "cg/model.safetensors")
    layout = {"G." + k.removeprefix("G_AB."): v for k, v in weights.items() if k.startswith("G_AB.")}
    safetensors.torch.save_file(layout, tmp_path / "cut/model.safetensors")
    assert main(["translate", str(tmp_path / "cut"), str(tmp_path / "data/testA"), "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "model.safetensors" in err and "do not match" in err


def test_a_one_way_model_trained_b_to_a_translates_b_to_a_only(tmp_path, capsys):
    unpaired_images(tmp_path / "data", 3, 36)
    out = tmp_path / "run"
    assert main(["train", "fastcut", "--data", str(tmp_path / "data"), "--out", str(out), "--direction", "BtoA",
                 "--netG", "resnet_1blocks", "--ngf", "4", "--ndf", "4", "--crop-size", "32", "--steps", "1",
                 "--nce-layers", "0,4", "--num-patches", "4"]) == 0  # fmt: skip
    assert json.loads((out / "model.json").read_text())["direction"] == "BtoA"
    assert Translator(out).direction == "BtoA"
    capsys.readouterr()
    assert main(["translate", str(out), str(tmp_path / "data/testB"), "--direction", "AtoB",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert "was trained BtoA" in capsys.readouterr().err
    assert main(["eval", "run", str(out), "--data", str(tmp_path / "data"), "--known-answer", "--json"]) == 0
    assert "BtoA_known_psnr" in json.loads((out / "eval.json").read_text())
