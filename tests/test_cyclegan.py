"""CycleGAN: image pool, cycle and identity terms, both directions, resume with two optimisers."""

import json
import random
from dataclasses import replace

import numpy as np
import pytest
import safetensors.torch
import torch
from helpers.runs import assert_same_networks, full_and_resumed, unpaired_images
from PIL import Image
from torch import nn

from core_gan.trainer import TrainConfig, Trainer
from gansuite.cli import main
from gansuite.inference import Translator
from gansuite.registry import build
from translation.cyclegan import CycleGANConfig, CycleGANLoss, CycleGANObjective, ImagePool

TINY = CycleGANConfig(netG="resnet_2blocks", ngf=4, ndf=4)


def test_image_pool_fills_then_swaps_with_probability_half():
    random.seed(0)
    pool = ImagePool(50)
    first = torch.arange(50.0).view(50, 1, 1, 1)
    assert torch.equal(pool.query(first), first), "while filling, the new images come back"
    assert len(pool.images) == 50
    returned_old = 0
    trials = 2000
    for i in range(trials):
        new = torch.full((1, 1, 1, 1), 1000.0 + i)
        out = pool.query(new)
        returned_old += int(out.item() != new.item())
    assert abs(returned_old / trials - 0.5) < 0.05
    assert len(pool.images) == 50 and any(img.item() >= 1000 for img in pool.images), "new images are stored"
    assert torch.equal(ImagePool(0).query(first), first)


class Identity(nn.Module):
    def forward(self, x):
        return x


def _objective(loss=None, generators=None):
    torch.manual_seed(0)
    gens, discs = build("cyclegan", TINY)
    pair = (torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1)
    objective = CycleGANObjective(generators or dict(gens.items()), dict(discs.items()), loss or CycleGANLoss(), pair)
    return objective, pair


def test_identity_generators_give_zero_cycle_and_identity_losses():
    objective, pair = _objective(generators={"G_AB": Identity(), "G_BA": Identity()})
    losses = objective.g_loss(pair)
    for key in ("cycle_A", "cycle_B", "idt_A", "idt_B"):
        assert losses[key].item() == 0.0


def test_cycle_and_identity_weights_match_the_paper():
    flip = {"G_AB": Identity(), "G_BA": type("Neg", (nn.Module,), {"forward": lambda self, x: -x})()}
    objective, (a, b) = _objective(CycleGANLoss(lambda_a=10, lambda_b=10, lambda_identity=0.5), flip)
    losses = objective.g_loss((a, b))
    # F(G(a)) = -a: cycle_A = 10 * mean|-a - a|; G(F(b)) = -b; idt_A = 0.5 * 10 * mean|F(a) - a|.
    assert losses["cycle_A"].item() == pytest.approx(10 * (2 * a.abs()).mean().item(), rel=1e-5)
    assert losses["cycle_B"].item() == pytest.approx(10 * (2 * b.abs()).mean().item(), rel=1e-5)
    assert losses["idt_A"].item() == pytest.approx(5 * (2 * a.abs()).mean().item(), rel=1e-5)
    assert losses["idt_B"].item() == 0.0
    no_idt, _ = _objective(CycleGANLoss(lambda_identity=0), flip)
    assert "idt_A" not in no_idt.g_loss((a, b))


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_cycle_and_identity_passes_in_one_batch_give_the_same_losses_and_gradients(norm):
    """Each generator runs on its cycle input and its identity input as one batch (per-image norms
    only); losses and generator gradients equal those of separate passes."""
    gens, discs = build("cyclegan", replace(TINY, norm=norm))
    torch.manual_seed(1)
    batch = (torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    objective = CycleGANObjective(dict(gens.items()), dict(discs.items()), CycleGANLoss(), batch)
    assert objective.batch_cycle_and_identity
    results = []
    for together in (True, False):
        objective.batch_cycle_and_identity = together
        objective.generators.zero_grad()
        losses = objective.g_loss(batch)
        losses["total"].backward()
        grads = [p.grad.clone() for p in objective.generators.parameters()]
        results.append(({k: v.item() for k, v in losses.items()}, grads))
    (batched, batched_grads), (separate, separate_grads) = results
    assert batched == pytest.approx(separate, rel=1e-5)
    for fast, reference in zip(batched_grads, separate_grads, strict=True):
        torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-6)
    with_batch_norm, _ = build("cyclegan", replace(TINY, norm="batch"))
    objective = CycleGANObjective(dict(with_batch_norm.items()), dict(discs.items()), CycleGANLoss(), batch)
    assert not objective.batch_cycle_and_identity, "batch statistics would mix the two batches"


def test_both_directions_keep_shapes_and_discriminators_are_unconditional():
    objective, (a, b) = _objective()
    assert objective.generators["G_AB"](a).shape == a.shape and objective.generators["G_BA"](b).shape == b.shape
    assert objective.discriminators["D_A"].net[0][0].in_channels == 3
    d = objective.d_loss((a, b))
    assert {"D_A", "D_B", "total"} <= d.keys()


def test_resume_is_bitwise_identical_with_two_optimizers_and_the_pools(tmp_path):
    from core_gan.data.folders import UnpairedFolder
    from core_gan.data.transforms import PairedTransformConfig

    unpaired_images(tmp_path / "data", 4, 32)
    transform = PairedTransformConfig("none", flip=False)
    config = TrainConfig(steps=6, batch_size=1, device="cpu", log_every=2, sample_every=6, checkpoint_every=3)

    def trainer(run, steps):
        torch.manual_seed(0)
        random.seed(0)
        objective, _ = _objective(CycleGANLoss(pool_size=2))
        data = UnpairedFolder(tmp_path / "data", transform=transform, seed=0)
        return Trainer(objective, data, tmp_path / run, replace(config, steps=steps), {"model": "cyclegan"})

    assert_same_networks(*full_and_resumed(trainer))


def test_cli_train_and_translate_both_directions(tmp_path, capsys):
    unpaired_images(tmp_path / "data", 4, 36)
    out = tmp_path / "run"
    args = ["train", "cyclegan", "--data", str(tmp_path / "data"), "--out", str(out), "--netG", "resnet_2blocks",
            "--ngf", "4", "--ndf", "4", "--crop-size", "32", "--steps", "3", "--log-every", "1",
            "--sample-every", "3", "--checkpoint-every", "3", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert set(config["params"]) == {"G_AB", "G_BA", "D_A", "D_B"}
    image = np.random.default_rng(2).integers(0, 256, (21, 18, 3)).astype(np.uint8)
    ab, ba = Translator(out, direction="AtoB")(image), Translator(out, direction="BtoA")(image)
    assert ab.shape == ba.shape == image.shape and not np.array_equal(ab, ba)
    assert main(["translate", str(out), str(tmp_path / "data/testB"), "--direction", "BtoA", "--out",
                 str(tmp_path / "o")]) == 0  # fmt: skip
    assert (tmp_path / "o/index.html").read_text().count("<tr>") == 5
    assert main(["eval", "run", str(out), "--data", str(tmp_path / "data"), "--json"]) == 0
    result = json.loads((out / "eval.json").read_text())
    n_a = len(list((tmp_path / "data/testA").iterdir()))
    assert result["n_A"] == n_a and result["split"] == "test"
    g, f = Translator(out, direction="AtoB"), Translator(out, direction="BtoA")
    errors = []
    for path in sorted((tmp_path / "data/testA").iterdir()):
        image = np.asarray(Image.open(path).convert("RGB"))
        errors.append(np.abs(f(g(image)).astype(float) - image).mean() / 127.5)
    assert result["cycle_A_l1"] == pytest.approx(np.mean(errors)) and np.isfinite(result["cycle_B_psnr"])


def test_a_warm_restart_starts_the_generators_from_an_init_run_and_keeps_its_networks(tmp_path, capsys):
    unpaired_images(tmp_path / "data", 4, 36)
    common = ["--data", str(tmp_path / "data"), "--crop-size", "32", "--steps", "1", "--log-every", "1",
              "--sample-every", "1", "--checkpoint-every", "1", "--device", "cpu"]  # fmt: skip
    first = tmp_path / "first"
    assert main(["train", "cyclegan", *common, "--out", str(first), "--netG", "resnet_2blocks", "--ngf", "4",
                 "--ndf", "4"]) == 0  # fmt: skip
    restart = ["train", "cyclegan", *common, "--init", str(first), "--lr", "1e-30"]
    assert main([*restart, "--out", str(tmp_path / "again")]) == 0
    start = safetensors.torch.load_file(first / "model.safetensors")
    again = safetensors.torch.load_file(tmp_path / "again" / "model.safetensors")
    # lr 1e-30 moves a weight by at most ~1e-30 (Adam's step is lr-sized even where rounding leaves a
    # zero bias before instance norm a gradient of 1e-9 on some CPUs): a fresh G would differ by ~1e-2
    assert set(start) == set(again) and all(torch.allclose(start[k], again[k], rtol=0, atol=1e-20) for k in start)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["model"]["config"]["ngf"] == 4 and config["init"] == str(first)
    capsys.readouterr()
    assert main([*restart, "--ngf", "8", "--out", str(tmp_path / "x")]) == 2
    assert "--ngf: the networks come from the --init run" in capsys.readouterr().err
    meta = json.loads((first / "model.json").read_text())
    (first / "model.json").write_text(json.dumps({**meta, "generators": ["G_AB"]}))
    safetensors.torch.save_file({k: v for k, v in start.items() if k.startswith("G_AB.")}, first / "model.safetensors")
    assert main([*restart, "--out", str(tmp_path / "y")]) == 2
    assert "--init" in (err := capsys.readouterr().err) and "generators do not fit" in err and "G_BA" in err


@pytest.mark.parametrize("policy", ["none", "translation+cutout"])
def test_diffaugment_changes_what_both_discriminators_see_in_both_updates(policy):
    objective, pair = _objective(CycleGANLoss(diffaugment=policy, pool_size=0))
    seen = {name: [] for name in ("D_A", "D_B")}
    for name, d in objective.discriminators.items():
        d.register_forward_pre_hook(lambda _, args, name=name: seen[name].append(args[0].detach()))
    objective.d_loss(pair)
    objective.g_loss(pair)
    a, b = pair
    fakes = objective.generators["G_BA"](b).detach(), objective.generators["G_AB"](a).detach()
    for name, real, fake in (("D_A", a, fakes[0]), ("D_B", b, fakes[1])):
        shown = seen[name]
        assert len(shown) == 3, "real and fake in D's update, fake in G's"
        untouched = [torch.equal(x, y) for x, y in zip(shown, (real, fake, fake), strict=True)]
        assert all(untouched) if policy == "none" else not any(untouched)
        if policy != "none":
            assert all((x == 0).any() for x in shown), "each input has its cut-out square"


def test_a_wgan_gp_critic_gets_its_gradient_penalty():
    """The penalty comes from GANLoss.critic_losses, as pix2pix's does: a WGAN critic without it (or
    clipping) is not a WGAN-GP."""
    objective, batch = _objective(CycleGANLoss(gan_mode="wgan-gp", pool_size=0, gp_weight=7.0))
    losses = {k: v.item() for k, v in objective.d_loss(batch).items()}
    assert {"D_A", "D_B", "gp_A", "gp_B"} <= losses.keys() and losses["gp_A"] > 0 and losses["gp_B"] > 0
    assert losses["total"] == pytest.approx(sum(losses[k] for k in ("D_A", "D_B", "gp_A", "gp_B")), rel=1e-5)
    unweighted, _ = _objective(CycleGANLoss(gan_mode="wgan-gp", pool_size=0, gp_weight=0.0))
    assert unweighted.d_loss(batch)["gp_B"].item() == 0
    assert "gp_A" not in _objective(CycleGANLoss(pool_size=0))[0].d_loss(batch), "LSGAN has no penalty"
