"""Nothing lost, nothing unsafe loaded, bad input answered in one line: kill -9 during a checkpoint write,
pickle payloads, a fuzz of the CLI, divergence recovery, checkpoint rotation, determinism."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_trainer import CONFIG, make_trainer

from core_gan import checkpoint as ckpt
from core_gan.errors import UserError
from core_gan.loggers import TIME_KEYS
from core_gan.trainer import Divergence
from gansuite.cli import main

SAMPLES = Path(__file__).parents[1] / "datasets" / "samples" / "hr"


class Payload:
    """Unpickling this would create ``path``: what a malicious checkpoint does."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_payload_is_refused_everywhere_and_never_runs(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"step": 1, "x": Payload(marker)}, f)
    with pytest.raises(UserError, match=r"evil\.pt: refused: not plain weights \(not a PyTorch file, or it holds code"):
        ckpt.load_checkpoint(evil)
    torch.save({"weights": Payload(marker)}, tmp_path / "evil_zip.pth")  # torch's own container, same payload
    with pytest.raises(UserError, match="refused"):
        ckpt.load_checkpoint(tmp_path / "evil_zip.pth")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    os.replace(evil, run / "checkpoints/last.pt")
    assert main(["train", "dcgan", "--data", "digits", "--out", str(run), "--resume", "--device", "cpu"]) == 2
    assert "refused" in capsys.readouterr().err
    sr = ["train", "srgan", "--data", str(SAMPLES), "--out", str(tmp_path / "sr"), "--vgg-weights"]
    assert main([*sr, str(tmp_path / "evil_zip.pth")]) == 2
    assert not marker.exists(), "the payload ran"


def train_command(run, steps, *extra):
    """A DCGAN at 64 px (a ~75 MB checkpoint, so a write takes a while) that checkpoints every step."""
    return [sys.executable, "-m", "gansuite", "train", "dcgan", "--data", "digits", "--image-size", "64",
            "--batch-size", "4", "--steps", str(steps), "--checkpoint-every", "1", "--log-every", "1",
            "--sample-every", "100000", "--device", "cpu", "--out", str(run), *extra]  # fmt: skip


def test_kill_9_during_a_checkpoint_write_leaves_a_loadable_checkpoint_and_resume_continues(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(train_command(run, 10_000), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder, deadline, mid_write = run / "checkpoints", time.monotonic() + 120, False
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            names = os.listdir(folder) if folder.is_dir() else []
            if "last.pt" in names and any(n.endswith(".tmp") for n in names):
                os.kill(proc.pid, signal.SIGKILL)  # a second checkpoint is being written right now
                mid_write = True
                break
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    assert mid_write, "never saw a checkpoint write in progress"
    assert any(n.endswith(".tmp") for n in os.listdir(folder)), "killed mid-write: the partial file is there"
    step = ckpt.load_checkpoint(folder / "last.pt")["step"]
    assert step >= 1
    done = subprocess.run(train_command(run, step + 2, "--resume"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert ckpt.load_checkpoint(folder / "last.pt")["step"] == step + 2
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")], "the stale partial file was cleaned up"


def test_checkpoint_rotation_keeps_the_newest_k_and_last_is_the_newest(tmp_path):
    trainer = make_trainer(tmp_path / "run", replace(CONFIG, steps=10, checkpoint_every=2, checkpoint_keep=2))
    trainer.fit()
    folder = tmp_path / "run/checkpoints"
    assert sorted(p.name for p in folder.glob("step_*.pt")) == ["step_0000008.pt", "step_0000010.pt"]
    assert ckpt.load_checkpoint(folder / "last.pt")["step"] == 10
    assert os.path.samefile(folder / "last.pt", folder / "step_0000010.pt")


def test_anomaly_retries_go_back_to_the_last_checkpoint_at_half_the_learning_rate(tmp_path):
    trainer = make_trainer(tmp_path / "run", replace(CONFIG, steps=10, anomaly_retries=1))
    original, poisoned_once = trainer.objective.g_loss, []

    def poisoned(batch):
        losses = original(batch)
        if trainer.step + 1 == 5 and not poisoned_once:
            poisoned_once.append(True)
            losses["total"] = losses["total"] * float("inf")
        return losses

    trainer.objective.g_loss = poisoned
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    event = next(r for r in rows if "event" in r)
    assert event["step"] == 3 and "step 5: G/total is inf" in event["event"]
    state = ckpt.load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert state["step"] == 10
    assert state["sched_g"]["base_lrs"] == [CONFIG.lr_g / 2] and state["sched_d"]["base_lrs"] == [CONFIG.lr_d / 2]


def test_without_retries_divergence_still_stops_the_run(tmp_path):
    trainer = make_trainer(tmp_path / "run", replace(CONFIG, steps=4))
    original = trainer.objective.d_loss

    def nan_loss(batch):
        losses = original(batch)
        return {**losses, "total": losses["total"] * float("nan")}

    trainer.objective.d_loss = nan_loss
    with pytest.raises(Divergence, match="step 1: D/total is nan; training stopped, no checkpoint yet"):
        trainer.fit()


def test_seed_and_deterministic_give_bitwise_identical_runs(tmp_path):
    for name in ("a", "b"):
        tiny = ["--ngf", "8", "--ndf", "8", "--batch-size", "8", "--steps", "4", "--log-every", "2"]
        repeatable = ["--seed", "3", "--deterministic", "--device", "cpu", "--out", str(tmp_path / name)]
        assert main(["train", "dcgan", "--data", "digits", *tiny, *repeatable]) == 0
    a, b = (tmp_path / n for n in ("a", "b"))
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    losses = [[{k: v for k, v in json.loads(r).items() if k not in TIME_KEYS}
               for r in (run / "metrics.jsonl").read_text().splitlines()] for run in (a, b)]  # fmt: skip
    assert losses[0] == losses[1]
    assert not torch.are_deterministic_algorithms_enabled(), "the global setting is restored after training"


@pytest.fixture(scope="module")
def fuzz_inputs(tmp_path_factory):
    """Runs and files of every kind the fuzz below feeds to the CLI."""
    root = tmp_path_factory.mktemp("fuzz")
    rng = np.random.default_rng(0)
    (root / "empty").mkdir()
    (root / "pairs/train").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (32, 64, 3)).astype(np.uint8)).save(root / "pairs/train/0.png")
    for side in ("A", "B"):
        (root / f"mismatch/{side}/train").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "mismatch/A/train/0.png")
    Image.fromarray(np.zeros((40, 32, 3), np.uint8)).save(root / "mismatch/B/train/0.png")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "notes.png").write_text("a text file named like an image")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)).save(root / "small.png")
    (root / "photos").mkdir()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(root / "photos/photo.png")
    (root / "notes.txt").write_text("the user's notes")
    (root / "done").mkdir()
    Image.fromarray(rng.integers(0, 256, (32, 64, 3)).astype(np.uint8)).save(
        root / "done/photo.png"
    )  # a pair made before
    for side in ("trainA", "trainB"):
        (root / "unpaired" / side).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(root / "unpaired" / side / "0.png")
    dcgan = ["train", "dcgan", "--data", "digits", "--ngf", "4", "--ndf", "4", "--batch-size", "8", "--steps", "1",
             "--device", "cpu", "--out", str(root / "dcgan")]  # fmt: skip
    assert main(dcgan) == 0
    import shutil

    import safetensors.torch

    shutil.copytree(root / "dcgan", root / "badshape")
    tensors = safetensors.torch.load_file(root / "badshape/model.safetensors")
    key = next(k for k, v in tensors.items() if v.dim() == 4)
    tensors[key] = torch.zeros(1, 1, 1, 1)
    safetensors.torch.save_file(tensors, root / "badshape/model.safetensors")
    return root


def checksums(root: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


FUZZ = {
    "missing data folder": (["train", "pix2pix", "--data", "{root}/nope", "--out", "{out}"], "nope"),
    "empty data folder": (["train", "pix2pix", "--data", "{root}/empty", "--out", "{out}"], "empty"),
    "wrong-size pair": (
        [
            "train",
            "pix2pix",
            "--data",
            "{root}/mismatch",
            "--netG",
            "unet_32",
            "--crop-size",
            "32",
            "--steps",
            "1",
            "--out",
            "{out}",
        ],
        "0.png: size 32x40 differs",
    ),
    "unknown flag value": (
        ["train", "pix2pix", "--data", "{root}/pairs", "--netG", "unet_9", "--out", "{out}"],
        "--netG",
    ),
    "unknown model": (["train", "stylegan9", "--data", "{root}/pairs", "--out", "{out}"], "stylegan9"),
    "negative steps": (["train", "dcgan", "--data", "digits", "--steps", "-3", "--out", "{out}"], "--steps"),
    "negative checkpoint count": (
        ["train", "dcgan", "--data", "digits", "--checkpoint-keep", "-1", "--out", "{out}"],
        "--checkpoint-keep",
    ),
    "negative retries": (
        ["train", "dcgan", "--data", "digits", "--anomaly-retries", "-2", "--out", "{out}"],
        "--anomaly-retries",
    ),
    "image size the model cannot make": (
        ["train", "dcgan", "--data", "digits", "--image-size", "48", "--out", "{out}"],
        "--image-size 48",
    ),
    "translate with a DCGAN run": (
        ["translate", "{root}/dcgan", "{root}/small.png", "--out", "{out}"],
        "is a dcgan model",
    ),
    "checkpoint of another model type": (
        ["upscale", "{root}/dcgan", "{root}/small.png", "--out", "{out}"],
        "is a dcgan model",
    ),
    "corrupt image to upscale": (["upscale", "bicubic", "{root}/corrupt.png", "--out", "{out}"], "corrupt.png"),
    "text file named .png": (["upscale", "bicubic", "{root}/notes.png", "--out", "{out}"], "notes.png"),
    "scale the model does not support": (
        ["upscale", "srresnet-x4", "{root}/small.png", "--scale", "2", "--out", "{out}"],
        "--scale 2",
    ),
    "output directory that cannot be created": (
        ["train", "dcgan", "--data", "digits", "--steps", "1", "--out", "{root}/small.png/run"],
        "cannot create the run directory",
    ),
    "missing run": (["export", "{root}/no_run", "--format", "onnx", "--out", "{out}/g.onnx"], "no_run"),
    "resume without a checkpoint": (["train", "dcgan", "--data", "digits", "--resume", "--out", "{out}"], "--resume"),
    "sample from a non-run": (["sample", "{root}/empty", "--out", "{out}/s.png"], "empty"),
    # the third round (issue "Nothing a user owns is overwritten")
    "upscale into the folder of its input": (
        ["upscale", "bicubic", "{root}/photos", "--out", "{root}/photos"], "would replace the input",
    ),
    "upscale --out an existing file": (["upscale", "bicubic", "{root}/small.png", "--out", "{root}/notes.txt"],
                                       "notes.txt: is a file"),
    "weights import over a trained run": (
        ["weights", "import", "realesrgan-x4plus", "--out", "{root}/dcgan"], "holds files already",
    ),
    "export over an existing file": (
        ["export", "{root}/dcgan", "--format", "safetensors", "--out", "{root}/notes.txt"], "already there",
    ),
    "sample over an existing file": (["sample", "{root}/dcgan", "-n", "2", "--out", "{root}/small.png"],
                                     "already there"),
    "data edges into its source": (["data", "edges", "{root}/photos", "{root}/photos"], "would replace the input"),
    "pix2pix crops of 7 px": (["train", "pix2pix", "--data", "{root}/pairs", "--crop-size", "7", "--out", "{out}"],
                              "--crop-size 7"),
    "pix2pix unet_256 on 128 px crops": (
        ["train", "pix2pix", "--data", "{root}/pairs", "--crop-size", "128", "--netG", "unet_256", "--out", "{out}"],
        "unet_32 or unet_64 or unet_128",
    ),
    "pix2pix 100 px crops for unet_64": (
        ["train", "pix2pix", "--data", "{root}/pairs", "--crop-size", "100", "--netG", "unet_64", "--out", "{out}"],
        "--crop-size 100",
    ),
    "pix2pix unet_48": (["train", "pix2pix", "--data", "{root}/pairs", "--netG", "unet_48", "--out", "{out}"],
                        "unet_32, unet_64"),
    "cyclegan crops of 16 px": (
        ["train", "cyclegan", "--data", "{root}/unpaired", "--crop-size", "16", "--out", "{out}"], "--crop-size 16",
    ),
    "srresnet crop not a multiple of the scale": (
        ["train", "srresnet", "--data", "{root}/photos", "--crop-size", "30", "--out", "{out}"], "--crop-size 30",
    ),
    "ssim border larger than the image": (
        ["eval", "ssim", "{root}/photos", "{root}/photos", "--crop-border", "100"], "--crop-border 100",
    ),
    "a port above 65535": (["app", "gan", "--port", "99999"], "--port"),
    "--n-layers-d without --netD n_layers": (
        ["train", "pix2pix", "--data", "{root}/pairs", "--n-layers-d", "2", "--out", "{out}"], "--netD n_layers",
    ),
    "--gp-weight without wgan-gp": (
        ["train", "cyclegan", "--data", "{root}/unpaired", "--gp-weight", "5", "--out", "{out}"], "--gan-mode wgan-gp",
    ),
    "--gradient-sigma without the gradient term": (
        ["train", "pix2pix", "--data", "{root}/pairs", "--gradient-sigma", "2", "--out", "{out}"],
        "--lambda-gradient > 0",
    ),
    "export over its own run's weights": (
        ["export", "{root}/dcgan", "--format", "safetensors", "--out", "{root}/dcgan/model.safetensors", "--overwrite"],
        "would replace the input",
    ),
    "weights import --overwrite over the --from file's folder": (
        ["weights", "import", "sr", "--from", "{root}/dcgan/model.safetensors", "--out", "{root}/dcgan", "--overwrite"],
        "holds the input",
    ),
    "weights import --overwrite over a folder that is no run": (
        ["weights", "import", "realesrgan-x4plus", "--out", "{root}/photos", "--overwrite"], "replaces runs only",
    ),
    "eval run --out over a user's file": (
        ["eval", "run", "{root}/dcgan", "--data", "{root}/pairs", "--out", "{root}/notes.txt"], "already there",
    ),
    "eval run --out over its run's model.json": (
        ["eval", "run", "{root}/dcgan", "--data", "{root}/pairs", "--out", "{root}/dcgan/model.json", "--overwrite"],
        "would replace the input",
    ),
    "data edges over pairs already there": (["data", "edges", "{root}/photos", "{root}/done"],
                                            "pass --overwrite"),
    "weights of the wrong shape": (["sample", "{root}/badshape", "--out", "{out}/s.png"], "badshape"),
}  # fmt: skip


@pytest.mark.parametrize("case", FUZZ, ids=list(FUZZ))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(fuzz_inputs, tmp_path, capsys, case):
    argv, names = FUZZ[case]
    out = tmp_path / "out"
    argv = [a.format(root=fuzz_inputs, out=out) for a in argv]
    before = checksums(fuzz_inputs)
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    assert checksums(fuzz_inputs) == before, "a file the user had changed, or a new one appeared among them"
    assert exit_info.value.code == 2
    progress = re.compile(r"\d+%\|")  # tqdm's bar, also on stderr
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if line.strip() and "warning" not in line and not progress.search(line)]
    assert len(lines) == 1 and names in lines[0], lines
    assert not out.exists() or not any(out.rglob("*.pt")), "nothing partial is left"


def test_overwrite_replaces_outputs_but_never_an_input_and_a_run_whole(fuzz_inputs, tmp_path, capsys):
    out = tmp_path / "up"
    args = ["upscale", "bicubic", str(fuzz_inputs / "small.png"), "--out", str(out)]
    assert main(args) == 0
    first = (out / "small.png").stat().st_mtime_ns
    assert main(args) == 2 and "pass --overwrite" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0 and (out / "small.png").stat().st_mtime_ns != first
    photos = fuzz_inputs / "photos"
    assert main(["upscale", "bicubic", str(photos), "--out", str(photos), "--overwrite"]) == 2
    assert "would replace the input" in capsys.readouterr().err
    from core_gan.outputs import replace_folder

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints/last.pt").write_text("old")

    def fails(tmp: Path) -> None:
        (tmp / "model.json").write_text("{}")
        raise RuntimeError("the import broke half-way")

    with pytest.raises(RuntimeError):
        replace_folder(run, fails)
    assert (run / "checkpoints/last.pt").read_text() == "old" and not (run / "model.json").exists()
    replace_folder(run, lambda tmp: (tmp / "model.json").write_text("{}"))
    assert sorted(p.name for p in run.iterdir()) == ["model.json"], "replaced whole, nothing of the old run left"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_run_never_goes_into_a_folder_holding_a_users_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    args = ["train", "dcgan", "--data", "digits", "--steps", "1", "--device", "cpu", "--out", str(out)]
    assert main(args) == 2 and "holds files already" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
