"""pix2pix edges -> photo on the bundled samples: cGAN + L1 vs L1 alone (the paper's Table 1 point).

Data: the 7 bundled photos (256 px) cut into 128 px quadrants; edges made with `gansuite data edges`;
the quadrants of the last two photos are held out. Reports on held-out images: L1, PSNR, SSIM (RGB)
and the sharpness ratio: mean squared Sobel gradient of the output over that of the target (1 = as
sharp as the target; L1 alone is expected below, blurry).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import append_results
from core_gan.data.builders import EdgeConfig, build_edges
from core_gan.metrics.image_quality import psnr, ssim
from core_gan.metrics.translation_quality import gradient_energy
from gansuite.cli import main as cli
from gansuite.inference import Translator

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "photos"


def make_data(root: Path, held_out: int = 2) -> None:
    photos = sorted(SAMPLES.glob("*.jpg"))
    for k, path in enumerate(photos):
        image = np.asarray(Image.open(path).convert("RGB").resize((256, 256)))
        split = "test" if k >= len(photos) - held_out else "train"
        quads = root / "quads" / split
        quads.mkdir(parents=True, exist_ok=True)
        for i, (y, x) in enumerate(((0, 0), (0, 128), (128, 0), (128, 128))):
            Image.fromarray(image[y : y + 128, x : x + 128]).save(quads / f"{path.stem}_{i}.png")
    for split in ("train", "test"):
        build_edges(root / "quads" / split, root / "pairs" / split, EdgeConfig(size=128))


def evaluate(run: Path, test_dir: Path) -> dict[str, float]:
    model = Translator(run)
    rows = []
    for path in sorted(test_dir.glob("*.png")):
        both = np.asarray(Image.open(path).convert("RGB"))
        edges, target = both[:, :128], both[:, 128:]
        out = model(edges)
        rows.append((
            np.abs(out.astype(float) - target).mean() / 127.5, psnr(out, target).item(), ssim(out, target).item(),
            gradient_energy(out) / gradient_energy(target),
        ))  # fmt: skip
    l1, p, s, sharp = np.mean(rows, axis=0)
    return {"l1": l1, "psnr": p, "ssim": s, "sharpness": sharp}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--speed-flags", default="--precision auto")
    a = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_data(root)
        for name, extra in (("cGAN + L1", []), ("L1 alone", ["--lambda-gan", "0"])):
            out = root / name.replace(" ", "")
            args = ["train", "pix2pix", "--data", str(root / "pairs"), "--out", str(out), "--netG", "unet_128",
                    "--ngf", str(a.ngf), "--ndf", str(a.ngf), "--steps", str(a.steps), "--log-every", "500",
                    "--sample-every", str(a.steps), "--checkpoint-every", str(a.steps)]  # fmt: skip
            args += a.speed_flags.split() + extra
            t0 = time.perf_counter()
            if cli(args) != 0:
                raise SystemExit(f"training failed: {args}")
            minutes = (time.perf_counter() - t0) / 60
            m = evaluate(out, root / "pairs" / "test")
            rows.append({"objective": name, "steps": a.steps, "train min": f"{minutes:.1f}", "L1": f"{m['l1']:.4f}",
                         "PSNR dB": f"{m['psnr']:.2f}", "SSIM": f"{m['ssim']:.4f}",
                         "sharpness (out/target grad energy)": f"{m['sharpness']:.3f}"})  # fmt: skip
            print(rows[-1], flush=True)
    append_results(
        "pix2pix edges -> photo, held-out quadrants of 2 bundled photos (8 images, 128 px)",
        rows,
        notes=f"unet_128, ngf = ndf = {a.ngf}, batch 1, 20 training photos-quadrants; {a.speed_flags}",
    )


if __name__ == "__main__":
    main()
