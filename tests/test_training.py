"""The Python training API (gansuite.training): a run in typed configs trains as its command line does,
the bundled recipes read back from their cards' commands, and wrong configs are refused in words."""

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

from core_gan.data.digits import digits_recipes
from core_gan.errors import UserError
from core_gan.gans.cgan import ACGANConfig
from core_gan.gans.gan import UnrollConfig
from core_gan.gans.wgan_gp import WGANGPConfig
from core_gan.hints import HintConfig
from core_gan.models.dcgan import DCGANConfig
from core_gan.trainer import TrainConfig
from gansuite.cli import build_parser, main
from gansuite.registry import MODELS
from gansuite.train import command, training_from_args
from gansuite.training import EvalConfig, GANData, SRData, Training, TranslationData, game_name, recipe_for, train
from recipes import bundled
from translation import cut, esrgan, pix2pix
from translation.esrgan import RRDBNetConfig

P2P = pix2pix.RECIPE
TINY_P2P = replace(P2P.network, netG="unet_32", ngf=4, ndf=4)
QUIET = TrainConfig(device="cpu", log_every=2, sample_every=2, checkpoint_every=2, logger="none")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / split).mkdir()
        for i in range(2):
            a = rng.integers(0, 256, (32, 32, 3), np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / split / f"{i}.png")
    return root


def test_a_training_and_its_command_line_train_the_same_run(pairs, tmp_path):
    run = Training(
        "pix2pix", TranslationData(pairs, crop_size=32, flip=False), network=TINY_P2P,
        loss=replace(P2P.loss, lambda_l1=50, lambda_gradient=10), schedule=replace(P2P.schedule, epochs=0, steps=2,
        batch_size=2, decay_steps=1), runtime=QUIET, evaluation=EvalConfig(every=2, samples=2),
    )  # fmt: skip
    assert train(run, tmp_path / "api") == tmp_path / "api"
    argv = command(run)
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 0, argv
    configs = [json.loads((tmp_path / r / "config.json").read_text()) for r in ("api", "cli")]
    for config in configs:
        config.pop("versions")
    assert configs[0] == configs[1]
    assert configs[0]["objective"]["lambda_l1"] == 50 and configs[0]["train"]["decay_steps"] == 1
    weights = [safetensors.torch.load_file(tmp_path / r / "model.safetensors") for r in ("api", "cli")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0]), "seeded: the same weights"


def resolved(run: Training) -> dict:
    """A run's settings with the recipe's filled in where it leaves them to the recipe, paths as text."""
    spec = MODELS[run.model]
    game = game_name(run.loss) if run.loss is not None and spec.family == "base" else ""
    recipe = recipe_for(spec, getattr(run.data, "source", ""), game)
    data = {f.name: str(v) if isinstance(v, Path) else v for f in fields(run.data) for v in [getattr(run.data, f.name)]}
    base = spec.family == "base"
    return {
        "data": data, "init": str(run.init or ""), "runtime": run.runtime, "evaluation": run.evaluation,
        "network": run.network or (None if run.init else recipe.network), "loss": run.loss or recipe.loss,
        "schedule": run.schedule or recipe.schedule, "hints": run.hints,
        "unroll": run.unroll or (UnrollConfig() if base else None), "acgan": run.acgan,
    }  # fmt: skip


WRITTEN = {
    "crop only": Training("pix2pix", TranslationData("d", crop_size=128)),
    "esrgan": Training("esrgan", SRData("d"), init="r", network=None, vgg_weights="vgg.pth"),
    "esrgan blocks": Training("esrgan", SRData("d"), network=replace(esrgan.SPEC.recipe.network, blocks=8)),
    "rrdb stage": Training("srresnet", SRData("d", val="v"), network=RRDBNetConfig(blocks=4)),
    "wgan-gp": Training("gan", GANData("ring8"), loss=WGANGPConfig(gp_weight=5), unroll=UnrollConfig(2)),
    "acgan": Training("cgan", GANData("digits", image_size=16), network=replace(
        digits_recipes()["cgan"].network, conditioning="acgan"), acgan=ACGANConfig(0.5)),
    "cut BtoA": Training("cut", TranslationData("d", direction="BtoA", serial=True, flip=False),
                         loss=replace(cut.CUT.recipe.loss, lambda_nce=2)),
}  # fmt: skip
"""Trainings a user might write, beside the bundled recipes."""


@pytest.mark.parametrize("name", list(bundled.RECIPES | bundled.BASES) + list(WRITTEN))
def test_every_bundled_recipe_and_a_written_training_is_read_back_from_its_command(name, monkeypatch):
    run = (bundled.RECIPES | bundled.BASES).get(name, (None, WRITTEN.get(name)))[1]
    monkeypatch.setattr("gansuite.train.init_network", lambda model, init: bundled.EDGES_NETWORK)
    args = build_parser(with_train=True).parse_args([*command(run), "--out", "x"])
    assert resolved(training_from_args(args)) == resolved(run)


def test_a_setting_without_a_flag_has_no_command():
    run = Training("pix2pix", TranslationData("d"), schedule=replace(P2P.schedule, betas=(0.9, 0.99)))
    with pytest.raises(ValueError, match="betas has no flag"):
        command(run)
    with pytest.raises(ValueError, match="d_steps has no flag"):
        command(replace(run, schedule=replace(P2P.schedule, d_steps=2)))
    with pytest.raises(ValueError, match="evaluated by `gansuite eval run`"):
        command(Training("cyclegan", TranslationData("d"), evaluation=EvalConfig(every=0)))


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (Training("pix2pix", GANData("digits")), "data: pix2pix trains on TranslationData, not GANData"),
        (Training("dcgan", TranslationData("d")), "data: dcgan trains on GANData, not TranslationData"),
        (Training("pix2pix", TranslationData("d"), unroll=UnrollConfig(2)), "unroll: pix2pix does not use it"),
        (Training("srresnet", SRData("d"), hints=HintConfig()), "hints: srresnet does not use it"),
        (Training("dcgan", GANData("digits"), init="run"), "init: dcgan does not use it"),
        (
            Training("pix2pix", TranslationData("d"), network=DCGANConfig()),
            "network: pix2pix's network is a Pix2PixConfig, not a DCGANConfig",
        ),
        (Training("dcgan", GANData("digits"), loss=P2P.loss), "loss: dcgan's loss is a GANGameConfig or WGANConfig"),
        (
            Training("pix2pix", TranslationData("d"), network=replace(P2P.network, n_layers_d=2)),
            "--n-layers-d: only used with --netD n_layers",
        ),
        (Training("unknown", GANData("digits")), "unknown model 'unknown'"),
        (Training("dcgan", GANData("digits"), runtime=TrainConfig(steps=5)), "runtime.steps: comes from the schedule"),
    ],
)
def test_configs_a_model_does_not_use_are_refused_in_words(run, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        train(run, "never-written")
    assert not Path("never-written").exists()


def test_an_init_run_gives_the_networks_which_may_only_gain_hints(pairs, tmp_path):
    first = Training("pix2pix", TranslationData(pairs, crop_size=32), network=TINY_P2P, runtime=QUIET,
                     schedule=replace(P2P.schedule, epochs=0, steps=1, batch_size=2))  # fmt: skip
    train(first, tmp_path / "first")
    wider = replace(first, init=tmp_path / "first", network=replace(TINY_P2P, ngf=8))
    with pytest.raises(UserError, match="--ngf: the networks come from the --init run"):
        train(wider, tmp_path / "wider")
    hinted = replace(first, init=tmp_path / "first", network=replace(TINY_P2P, hints=True), hints=HintConfig())
    train(hinted, tmp_path / "hinted")
    meta = json.loads((tmp_path / "hinted" / "model.json").read_text())
    assert meta["config"]["hints"] and meta["config"]["ngf"] == 4
