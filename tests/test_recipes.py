"""One recipe per method, per-model flags, validation where values enter, and no hidden state:
cadences, determinism across processes, side effects at import."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core_gan.data.digits import digits_recipes
from gansuite.cli import build_parser, main
from gansuite.registry import MODELS
from translation import cyclegan, pix2pix, srgan
from translation.cyclegan import ImagePool

TINY = {
    "gan": ["--data", "ring8", "--hidden", "8", "--layers", "1", "--latent-dim", "4", "--batch-size", "16"],
    "dcgan": ["--data", "digits", "--ngf", "4", "--ndf", "4", "--latent-dim", "8", "--batch-size", "8"],
    "cgan": ["--data", "digits", "--ngf", "4", "--ndf", "4", "--latent-dim", "8", "--batch-size", "8"],
    "pix2pix": ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--crop-size", "32"],
    "cyclegan": ["--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--crop-size", "32"],
    "srresnet": ["--blocks", "1", "--features", "4", "--crop-size", "16", "--batch-size", "2"],
}
CADENCE = ["--log-every", "2", "--sample-every", "3", "--checkpoint-every", "3", "--device", "cpu"]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def one_line_error(code, err, *fragments):
    assert code == 2, err
    assert len(err) == 1, err
    assert all(f in err[0] for f in fragments), err


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Side-by-side pairs, unpaired domains and HR images, 32 px, random."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for i in range(2):
        a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
        for split in ("train", "val"):
            (root / "pairs" / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / "pairs" / split / f"{i}.png")
        for side in ("trainA", "trainB"):
            (root / "unpaired" / side).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(
                root / "unpaired" / side / f"{i}.png"
            )
        (root / "hr").mkdir(exist_ok=True)
        Image.fromarray(a).save(root / "hr" / f"{i}.png")
    return root


def model_args(model: str, data: Path) -> list[str]:
    where = {"pix2pix": ["--data", data / "pairs"], "cyclegan": ["--data", data / "unpaired"],
             "srresnet": ["--data", data / "hr"]}.get(model, [])  # fmt: skip
    return [*where, *TINY[model]]


def test_every_cadence_of_logging_sampling_and_checkpointing_trains_and_resumes(tmp_path, capsys):
    """--checkpoint-every below --log-every used to crash in the loss plot before metrics.jsonl existed."""
    out = tmp_path / "r"
    args = ["train", "dcgan", *TINY["dcgan"], "--out", out, "--device", "cpu", "--log-every", "100"]
    assert run_cli([*args, "--steps", "5", "--checkpoint-every", "2", "--sample-every", "1"], capsys)[0] == 0
    assert (
        run_cli([*args, "--steps", "8", "--checkpoint-every", "3", "--sample-every", "7", "--resume"], capsys)[0] == 0
    )
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 8]  # the end of each run flushes its window
    assert torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"] == 8
    assert (out / "losses.png").is_file() and (out / "samples" / "step_0000007.png").is_file()


def test_each_model_lists_only_its_own_flags_and_every_argument_has_help():
    parser = build_parser()

    def helps(p: argparse.ArgumentParser) -> dict[str, str]:
        return {a.option_strings[-1] if a.option_strings else a.dest: a.help or "" for a in p._actions}

    def subparsers(p: argparse.ArgumentParser):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield name, child
                    yield from subparsers(child)

    children = dict(subparsers(parser))
    for name, child in children.items():
        missing = [flag for flag, text in helps(child).items() if not text and flag != "help"]
        assert not missing, f"{name}: no help for {missing}"
    flags = {name: set(helps(children[name])) for name in MODELS}
    assert "--lambda-l1" in flags["pix2pix"] and "--lambda-l1" not in flags["cyclegan"] | flags["srresnet"]
    assert "--loss" in flags["dcgan"] and "--loss" not in flags["pix2pix"] | flags["srgan"]
    assert "--d-steps" in flags["gan"] and "--d-steps" not in flags["pix2pix"] | flags["cyclegan"]
    assert "--netD" in flags["pix2pix"] and "--netD" not in flags["cyclegan"]
    assert "--eval-every" in flags["pix2pix"] and "--eval-every" not in flags["cyclegan"]
    assert "--crop-size" in flags["srgan"] and "--image-size" not in flags["pix2pix"] | flags["srresnet"]
    assert "--init" in flags["srgan"] & flags["esrgan"] & flags["srresnet"] & flags["pix2pix"] & flags["cyclegan"]
    assert "--init" not in flags["dcgan"] | flags["cgan"]
    assert "--conditioning" in flags["cgan"] and "--conditioning" not in flags["dcgan"]


@pytest.mark.parametrize(
    "model, flag",
    [("srresnet", ["--epochs-decay", "3"]), ("cyclegan", ["--eval-every", "5"]), ("pix2pix", ["--loss", "wgan"]),
     ("cyclegan", ["--netD", "pixel"]), ("pix2pix", ["--d-steps", "2"]), ("dcgan", ["--lambda-l1", "5"]),
     ("srgan", ["--arch", "rrdb"]), ("gan", ["--conditioning", "acgan"])],
)  # fmt: skip
def test_a_flag_the_model_does_not_use_is_refused_naming_flag_and_model(model, flag, tmp_path, capsys):
    code, err = run_cli(["train", model, "--data", tmp_path, "--out", tmp_path / "r", *flag], capsys)
    one_line_error(code, err, flag[0], model)


@pytest.mark.parametrize(
    "args, flag",
    [(["--lr", "nan"], "--lr"), (["--lr", "-1"], "--lr"), (["--lr", "inf"], "--lr"), (["--batch-size", "0"],
     "--batch-size"), (["--ema", "2"], "--ema"), (["--steps", "1.5"], "--steps"), (["--decay-steps", "-1"],
     "--decay-steps"), (["--lr-d", "-0.1"], "--lr-d"), (["--log-every", "0"], "--log-every"),
     (["--latent-dim", "0"], "--latent-dim"), (["--clip", "0", "--loss", "wgan"], "--clip"),
     (["--r1", "nan"], "--r1"), (["--seed", "x"], "--seed"), (["--steps", "3", "--epochs", "2"], "--steps")],
)  # fmt: skip
def test_numbers_are_checked_where_they_enter(args, flag, tmp_path, capsys):
    code, err = run_cli(["train", "dcgan", "--data", "digits", "--out", tmp_path / "r", *args], capsys)
    one_line_error(code, err, flag)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "model, args, flag",
    [("pix2pix", ["--lambda-l1", "-1"], "--lambda-l1"), ("cyclegan", ["--pool-size", "-2"], "--pool-size"),
     ("cyclegan", ["--lambda-identity", "nan"], "--lambda-identity"), ("srresnet", ["--scale", "3"], "--scale"),
     ("srgan", ["--adversarial-weight", "-1e-3"], "--adversarial-weight"), ("pix2pix", ["--ngf", "0"], "--ngf")],
)  # fmt: skip
def test_method_flags_are_checked_too(model, args, flag, tmp_path, capsys):
    code, err = run_cli(["train", model, "--data", tmp_path, "--out", tmp_path / "r", *args], capsys)
    one_line_error(code, err, flag)


def test_debug_is_accepted_after_the_command(tmp_path, capsys):
    code, err = run_cli(["train", "dcgan", "--data", tmp_path / "nope", "--out", tmp_path / "r", "--debug"], capsys)
    assert code == 2 and any("Traceback" in line for line in err) and err[-1].startswith("error: ")
    assert run_cli(["models", "--debug"], capsys)[0] == 0


def test_square_images_are_refused_as_paired_data_naming_the_file(tmp_path, capsys):
    (tmp_path / "d" / "train").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 128, 3), np.uint8)).save(tmp_path / "d" / "train" / "0_pair.png")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "d" / "train" / "1_square.png")
    code, err = run_cli(["train", "pix2pix", "--data", tmp_path / "d", "--out", tmp_path / "r"], capsys)
    one_line_error(code, err, "1_square.png", "64x64", "side by side")


def test_an_empty_weights_file_is_a_one_line_error(tmp_path, capsys):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / name / "0.png")
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("not weights")
    for weights, fragment in (("empty.pth", "is empty"), ("text.pth", "not plain weights")):
        code, err = run_cli(["eval", "fid", tmp_path / "a", tmp_path / "b", "--weights", tmp_path / weights], capsys)
        one_line_error(code, err, weights, fragment)


def test_upscale_with_tile_0_runs_the_whole_image(tmp_path, capsys):
    Image.fromarray(np.full((20, 30, 3), 77, np.uint8)).save(tmp_path / "x.png")
    assert run_cli(["upscale", "bicubic", tmp_path / "x.png", "--tile", "0", "--out", tmp_path / "o"], capsys)[0] == 0
    with Image.open(tmp_path / "o" / "x.png") as result:
        assert result.size == (120, 80)
    code, err = run_cli(["upscale", "bicubic", tmp_path / "x.png", "--tile", "16", "--tile-overlap", "16",
                         "--out", tmp_path / "o"], capsys)  # fmt: skip
    one_line_error(code, err, "--tile-overlap 16")


def test_eval_run_on_a_bundled_model_writes_beside_the_user_not_into_the_package(tmp_path, monkeypatch, capsys):
    from gansuite.runs import CHECKPOINTS

    (tmp_path / "d" / "test").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(tmp_path / "d" / "test" / "0.png")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["eval", "run", "edges2photo", "--data", tmp_path / "d"], capsys)[0] == 0
    assert json.loads((tmp_path / "eval-edges2photo.json").read_text())["n"] == 1
    assert not (CHECKPOINTS / "edges2photo" / "eval.json").exists()


def test_recipes_live_beside_their_methods_and_are_what_a_run_trains_with(data, tmp_path, capsys):
    assert MODELS["pix2pix"].recipe is pix2pix.RECIPE and MODELS["cyclegan"].recipe is cyclegan.RECIPE
    assert MODELS["srgan"].recipe is srgan.SRGAN_RECIPE
    out = tmp_path / "p2p"
    assert (
        run_cli(["train", "pix2pix", *model_args("pix2pix", data), "--out", out, "--epochs", "2", *CADENCE], capsys)[0]
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    schedule, loss = pix2pix.RECIPE.schedule, pix2pix.RECIPE.loss
    assert config["train"]["lr_g"] == schedule.lr and tuple(config["train"]["betas"]) == schedule.betas
    assert config["train"]["steps"] == 2 * 2 and config["train"]["decay_steps"] == 2  # 2 images, half decayed
    assert config["objective"]["lambda_l1"] == loss.lambda_l1 and config["recipe"] == pix2pix.RECIPE.citation
    out = tmp_path / "cgan"
    assert run_cli(["train", "cgan", "--data", "digits", "--out", out, "--steps", "1", "--batch-size", "8",
                    "--ngf", "4", "--ndf", "4", *CADENCE], capsys)[0] == 0  # fmt: skip
    meta = json.loads((out / "model.json").read_text())["config"]
    assert meta["conditioning"] == digits_recipes()["cgan"].network.conditioning == "projection"


def test_wgan_takes_its_papers_optimiser(tmp_path, capsys):
    out = tmp_path / "w"
    args = ["train", "dcgan", *TINY["dcgan"], "--loss", "wgan", "--steps", "1", "--out", out, *CADENCE]
    assert run_cli(args, capsys)[0] == 0
    train = json.loads((out / "config.json").read_text())["train"]
    assert (train["optimizer"], train["lr_g"], train["d_steps"]) == ("rmsprop", 5e-5, 5)
    out = tmp_path / "gp"
    args = ["train", "gan", *TINY["gan"], "--loss", "wgan-gp", "--steps", "1", "--out", out, *CADENCE]
    assert run_cli(args, capsys)[0] == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["train"]["lr_g"], tuple(config["train"]["betas"]), config["train"]["d_steps"]) == (
        1e-4,
        (0.0, 0.9),
        5,
    )
    assert (
        config["model"]["config"]["minibatch_std"] is False
    )  # the gan recipe's mbstd is off under a per-sample penalty


def test_image_pool_draws_from_its_own_seeded_generator_and_resumes():
    images = torch.arange(12.0).view(12, 1, 1, 1)

    def draws(pool):
        return torch.cat([pool.query(images[i : i + 3]) for i in range(0, 12, 3)]).flatten().tolist()

    a, b = ImagePool(2, seed=5), ImagePool(2, seed=5)
    assert draws(a) == draws(b) and draws(ImagePool(2, seed=5)) != draws(ImagePool(2, seed=6))
    resumed = ImagePool(2)
    resumed.load_state_dict(a.state_dict())
    assert draws(resumed) == draws(a)


@pytest.mark.slow
def test_two_processes_with_the_same_seed_write_identical_weights(data, tmp_path):
    """Two processes, each with its own hash seed, train every model in turn: the same bytes."""
    commands = {model: ["train", model, *map(str, model_args(model, data)), "--steps", "3", "--seed", "7",
                        "--deterministic", *CADENCE] for model in TINY}  # fmt: skip
    script = (
        "import json, sys; from gansuite.cli import main; out, commands = sys.argv[1], json.loads(sys.argv[2]); "
        "sys.exit(max([main([*argv, '--out', f'{out}/{model}']) for model, argv in commands.items()]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "random"}
    runs = [tmp_path / "one", tmp_path / "two"]
    procs = [subprocess.Popen([sys.executable, "-c", script, str(run), json.dumps(commands)], env=env,
                              stderr=subprocess.PIPE) for run in runs]  # fmt: skip
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
    for model in TINY:
        first, second = ((run / model / "model.safetensors").read_bytes() for run in runs)
        assert first == second, model


def test_importing_the_suite_changes_nothing_in_the_process():
    code = (
        "import os, sys; before = dict(os.environ); "
        "import gansuite.cli, gansuite.train, core_gan.trainer, core_gan.plots, apps.hub; "
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'; "
        "changed = set(os.environ.items()) ^ set(before.items()); "
        "assert {k for k, _ in changed} <= {'LD_LIBRARY_PATH'}, changed"  # set by OpenCV's own import
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-1500:]


def test_deterministic_training_leaves_no_environment_behind(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    args = ["train", "gan", *TINY["gan"], "--steps", "1", "--deterministic", "--out", tmp_path / "r", *CADENCE]
    assert run_cli(args, capsys)[0] == 0
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ and not torch.are_deterministic_algorithms_enabled()
