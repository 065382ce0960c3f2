"""The command line: train/sample/interpolate/arithmetic round trips and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gansuite.cli import main

TINY_GAN = [
    "--steps",
    "4",
    "--batch-size",
    "16",
    "--hidden",
    "8",
    "--layers",
    "1",
    "--latent-dim",
    "4",
    "--log-every",
    "2",
    "--sample-every",
    "4",
    "--checkpoint-every",
    "4",
    "--device",
    "cpu",
]
TINY_DC = [
    "--steps",
    "2",
    "--batch-size",
    "8",
    "--ngf",
    "4",
    "--ndf",
    "4",
    "--latent-dim",
    "8",
    "--log-every",
    "1",
    "--sample-every",
    "2",
    "--checkpoint-every",
    "2",
    "--device",
    "cpu",
]


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    errors = [line for line in err if "error" in line]
    assert len(errors) == 1, err
    for fragment in fragments:
        assert fragment in errors[0]


@pytest.fixture(scope="module")
def points_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ring"
    assert main(["train", "gan", "--data", "ring8", "--out", str(out), *TINY_GAN]) == 0
    return out


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cgan"
    assert main(["train", "cgan", "--data", "digits", "--out", str(out), *TINY_DC]) == 0
    return out


def test_points_run_samples_to_npy(points_run, tmp_path, capsys):
    code, _ = run_cli(["sample", points_run, "-n", "10", "--out", tmp_path / "points.npy", "--seed", "3"], capsys)
    assert code == 0
    points = np.load(tmp_path / "points.npy")
    assert points.shape == (10, 2)
    run_cli(["sample", points_run, "-n", "10", "--out", tmp_path / "again.npy", "--seed", "3"], capsys)
    np.testing.assert_array_equal(points, np.load(tmp_path / "again.npy"))


def test_cgan_samples_grid_folder_label_and_class_grid(cgan_run, tmp_path, capsys):
    assert run_cli(["sample", cgan_run, "-n", "5", "--out", tmp_path / "grid.png"], capsys)[0] == 0
    assert run_cli(["sample", cgan_run, "-n", "3", "--out", tmp_path / "many", "--label", "7"], capsys)[0] == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    with Image.open(tmp_path / "many/00000.png") as im:
        assert im.size == (32, 32)
    assert run_cli(["sample", cgan_run, "-n", "2", "--out", tmp_path / "all.png", "--label", "all"], capsys)[0] == 0
    with Image.open(tmp_path / "all.png") as im:
        width, height = im.size
    assert width > height * 4, "one column per class (10), one row per latent (2)"
    code, err = run_cli(["sample", cgan_run, "-n", "2", "--out", tmp_path / "x.png", "--label", "12"], capsys)
    assert_one_line_error(code, err, "--label 12", "0..9")


def test_interpolate_and_arithmetic(cgan_run, tmp_path, capsys):
    for name, slerp in (("strip", []), ("slerp", ["--slerp"])):
        args = ["interpolate", cgan_run, "--out", tmp_path / f"{name}.png", "--steps", "5", "--label", "3", *slerp]
        assert run_cli(args, capsys)[0] == 0
    with Image.open(tmp_path / "strip.png") as im:
        width, height = im.size
    assert width > 4 * height
    args = [
        "arithmetic",
        cgan_run,
        "--a",
        "1,2",
        "--b",
        "3",
        "--c",
        "4,5,6",
        "--out",
        tmp_path / "a.png",
        "--label",
        "1",
    ]
    assert run_cli(args, capsys)[0] == 0


def test_config_records_params_and_model_json(cgan_run):
    config = json.loads((cgan_run / "config.json").read_text())
    assert config["params"]["G"] > 0 and config["params"]["D"] > 0
    meta = json.loads((cgan_run / "model.json").read_text())
    assert meta["model"] == "cgan" and meta["config"]["num_classes"] == 10


def test_unknown_model(tmp_path, capsys):
    code, err = run_cli(["train", "stylegan9", "--data", "ring8", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "stylegan9")


def test_missing_folder(tmp_path, capsys):
    code, err = run_cli(["train", "dcgan", "--data", tmp_path / "nope", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "nope", "no such folder")


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run_cli(["train", "dcgan", "--data", tmp_path / "empty", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "empty", "no images")


def test_folder_of_unreadable_images(tmp_path, capsys):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/a.png").write_bytes(b"not a png")
    (tmp_path / "bad/b.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match="skipping 2 unreadable"):
        code, err = run_cli(["train", "dcgan", "--data", tmp_path / "bad", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "bad", "could be read")


def test_unknown_flag_value_and_wrong_data_kind(tmp_path, capsys):
    assert main(["train", "gan", "--data", "ring8", "--out", str(tmp_path / "r"), "--loss", "wasserstein"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    code, err = run_cli(["train", "dcgan", "--data", "ring8", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "ring8", "needs images")


@pytest.mark.parametrize("command, model", [("upscale", "Upscaler"), ("translate", "Translator")])
def test_a_missing_input_is_named_before_the_model_loads(command, model, tmp_path, capsys, monkeypatch):
    import gansuite.inference

    def no_model(*args, **kwargs):
        raise AssertionError("the model loaded (and, on a new machine, was timed) before the inputs were checked")

    monkeypatch.setattr(gansuite.inference, model, no_model)
    code, err = run_cli([command, "srresnet-x4", tmp_path / "typo.png", "--out", tmp_path / "out"], capsys)
    assert_one_line_error(code, err, "typo.png", "no such file")


def test_sample_from_a_non_run(tmp_path, capsys):
    code, err = run_cli(["sample", tmp_path, "--out", tmp_path / "g.png"], capsys)
    assert_one_line_error(code, err, "model.json", "missing")


def test_folder_training_with_classes_and_python_m(tmp_path):
    for cls in ("cats", "dogs"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(4):
            colour = (i * 60, 0, 255 - i * 60)
            Image.new("RGB", (40, 36), colour).save(tmp_path / "data" / cls / f"{i}.png")
    args = [
        "train",
        "cgan",
        "--data",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "r"),
        *TINY_DC,
        "--batch-size",
        "4",
        "--conditioning",
        "projection",
    ]
    proc = subprocess.run([sys.executable, "-m", "gansuite", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r/model.json").read_text())["config"]["num_classes"] == 2
    proc = subprocess.run([sys.executable, "-m", "gansuite", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error:")
    assert "Traceback" not in proc.stderr


def test_inference_commands_start_without_the_training_stack(tmp_path):
    """upscale parses and runs without importing what only training needs (albumentations,
    torchvision: seconds of start-up); an unknown command still lists train among the choices."""
    image = tmp_path / "in.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(image)
    script = ("import sys; from gansuite.cli import main; "
              f"code = main(['upscale', 'bicubic', {str(image)!r}, '--out', {str(tmp_path / 'out')!r}]); "
              "print(code, sorted(m for m in ('albumentations', 'torchvision') if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.split()[-2:] == ["0", "[]"], proc.stdout + proc.stderr
    assert (tmp_path / "out" / "in.png").is_file()
    proc = subprocess.run([sys.executable, "-m", "gansuite", "nosuchcommand"], capture_output=True, text=True)
    assert proc.returncode == 2 and "'train'" in proc.stderr


def test_an_interrupt_exits_130_and_speaks_of_checkpoints_only_in_training(monkeypatch, capsys, tmp_path):
    import gansuite.cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(gansuite.cli, "run", interrupted)
    assert main(["models"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert main(["train", "gan", "--data", "digits", "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "interrupted; the last checkpoint is intact\n"
