"""Train the checkpoints that `gansuite demo` ships (gansuite/checkpoints/), on the bundled samples only.

    python -m apps.train_bundled                   # every recipe, about 60 CPU minutes on 2 cores
    python -m apps.train_bundled --only edges2photo

Each recipe is one `gansuite train` command (seed 0); the finished run in `runs/bundled/NAME` is
exported to `gansuite/checkpoints/NAME` as fp16 safetensors + `model.json` + `training.json` (the
command, training minutes as logged by the trainer, parameters and the last logged figures).
`--skip-trained` reuses finished runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import safetensors.torch

from core_gan.checkpoint import write_json
from core_gan.data.builders import EdgeConfig, build_edges, sr_crops
from gansuite.cli import main as cli
from gansuite.runs import CHECKPOINTS

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples"
RUNS = ROOT / "runs" / "bundled"
FAST = ["--precision", "bf16", "--channels-last"]

# name -> (description, gansuite arguments without --out)
RECIPES: dict[str, tuple[str, list[str]]] = {
    "edges2photo": (
        "pix2pix edges -> photo (unet_256, ngf 16) on 256 px crops of the 7 bundled photos",
        ["train", "pix2pix", "--data", str(RUNS / "data" / "edges"), "--ngf", "16", "--ndf", "32",
         "--steps", "4000", "--log-every", "250", "--sample-every", "1000", "--checkpoint-every", "1000", *FAST],
    ),
    "srresnet-x4": (
        "SRResNet x4 (16 blocks, no BN, lr 2e-4 decayed linearly over the second half: faster to converge) on 96 px "
        "crops of datasets/samples/hr, MSE",
        ["train", "srresnet", "--data", str(SAMPLES / "hr"), "--no-batch-norm", "--lr", "2e-4", "--steps", "5000",
         "--decay-steps", "2500", "--log-every", "250",
         "--sample-every", "1000", "--checkpoint-every", "1000", *FAST],
    ),
    "srgan-x4": (
        "SRGAN x4 from srresnet-x4, MSE content loss (VGG19 weights are not available offline) + 1e-3 adversarial",
        ["train", "srgan", "--data", str(SAMPLES / "hr"), "--init", str(RUNS / "srresnet-x4"), "--steps", "1000",
         "--content-loss", "mse", "--log-every", "250", "--sample-every", "1000", "--checkpoint-every", "500", *FAST],
    ),
    "digits-dcgan": (
        "DCGAN on scikit-learn's 1,797 handwritten digits at 32 px",
        ["train", "dcgan", "--data", "digits", "--steps", "3000", "--log-every", "250", *FAST],
    ),
    "digits-cgan": (
        "class-conditional DCGAN (projection D, conditional BN) on the digits; --label 0..9",
        ["train", "cgan", "--data", "digits", "--conditioning", "projection", "--conditional-bn", "--steps", "3000",
         "--log-every", "250", *FAST],
    ),
}  # fmt: skip


def prepare_edges() -> None:
    """256 px crops (step 128) of the HR sample photos, paired with their Canny edges (`data edges`)."""
    crops, pairs = RUNS / "data" / "crops", RUNS / "data" / "edges" / "train"
    if pairs.is_dir():
        return
    sr_crops(SAMPLES / "hr", crops, size=256, step=128)
    build_edges(crops, pairs, EdgeConfig(size=256))


def last_figures(run: Path) -> dict[str, float]:
    """The last logged value of every figure in metrics.jsonl (losses, and validation when present)."""
    figures: dict[str, float] = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        figures.update(json.loads(line))
    return figures


def export(name: str, description: str, args: list[str], run: Path) -> Path:
    """fp16 weights + model.json + training.json in gansuite/checkpoints/NAME."""
    dest = CHECKPOINTS / name
    dest.mkdir(parents=True, exist_ok=True)
    tensors = safetensors.torch.load_file(run / "model.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    safetensors.torch.save_file(half, dest / "model.safetensors")
    shutil.copyfile(run / "model.json", dest / "model.json")
    config = json.loads((run / "config.json").read_text())
    figures = last_figures(run)
    write_json(dest / "training.json", {
        "description": description,
        "command": "gansuite " + " ".join([*args, "--out", f"runs/bundled/{name}"]).replace(f"{ROOT}/", ""),
        "params": config["params"], "steps": figures.get("step"), "train_minutes": round(figures["time"] / 60, 1),
        "last_logged": figures,
    })  # fmt: skip
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=RECIPES)
    p.add_argument("--skip-trained", action="store_true", help="reuse runs/bundled/NAME when it is finished")
    a = p.parse_args()
    for name in a.only or RECIPES:
        description, args = RECIPES[name]
        run = RUNS / name
        if not (a.skip_trained and (run / "model.safetensors").is_file()):
            if name == "edges2photo":
                prepare_edges()
            if cli([*args, "--out", str(run)]) != 0:
                raise SystemExit(f"{name}: training failed")
        print(f"{name}: exported to {export(name, description, args, run)}")


if __name__ == "__main__":
    main()
