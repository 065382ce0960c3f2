"""An unpaired translator (CycleGAN, CUT, FastCUT) on a task with a known answer: B = T(A) for a fixed
invertible colour map T.

T permutes the channels (R, G, B) -> (B, R, G) and inverts the new green. Each of 5 bundled photos
(datasets/samples/hr) is cut into a checkerboard of 128 px cells: domain A takes random 64 px crops
inside its white cells, domain B T of crops inside its black cells, so both domains show the same
kinds of content but no pixel, let alone a pair, is in both. Held out: crops of the 2 other photos.
Reports PSNR(G(x), T(x)) next to the identity baseline PSNR(x, T(x)), and for CycleGAN the cycle
PSNR(F(G(x)), x).

    python -m benchmarks.bench_cyclegan_quality [--model cyclegan|cut|fastcut] [--steps N] [--recipe FLAGS]

CycleGAN's default recipe (each an option of the reference code): a U-Net generator, whose skips carry
the image's detail; no normalisation in G, since instance norm removes each crop's colour means, the
very thing T changes; no identity loss, which rewards G(b) = b, the opposite of T; a 2-layer PatchGAN
(34 px patches) that judges colours and local texture rather than which part of a photo a crop shows.
CUT and FastCUT read a ResNet's encoder: compare them with CycleGAN through ``--recipe`` on the same
ResNet (``--netG resnet_6blocks --norm none --n-layers-d 2``, CycleGAN adding ``--lambda-identity 0``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import append_results
from core_gan.metrics.image_quality import psnr
from gansuite.cli import main as cli
from gansuite.inference import Translator

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "hr"
TEST_PER_PHOTO = 16
RECIPE = "--netG unet_64 --norm none --lambda-identity 0 --n-layers-d 2"


def colour_map(x: np.ndarray) -> np.ndarray:
    """T: (R, G, B) -> (B, 255 - R, G); invertible."""
    return np.stack([x[..., 2], 255 - x[..., 0], x[..., 1]], axis=-1).astype(np.uint8)


def checkerboard_crops(image: np.ndarray, parity: int, n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n random size x size crops, each inside one cell of a checkerboard of 2 size cells whose colour
    is ``parity``: the two colours share the photo's content but no pixel."""
    cell = 2 * size
    cells = [
        (y, x) for y in range(image.shape[0] // cell) for x in range(image.shape[1] // cell) if (y + x) % 2 == parity
    ]
    out = []
    for k in rng.integers(0, len(cells), n):
        y, x = (c * cell + int(rng.integers(0, size + 1)) for c in cells[k])
        out.append(image[y : y + size, x : x + size])
    return out


def random_crops(image: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    ys, xs = rng.integers(0, image.shape[0] - size + 1, n), rng.integers(0, image.shape[1] - size + 1, n)
    return [image[y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)]


def make_data(root: Path, size: int, per_photo: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(SAMPLES.glob("*.jpg"))]
    train, held_out = photos[:5], photos[5:]
    for side in ("trainA", "trainB", "testA", "testB"):
        (root / side).mkdir(parents=True)
    for k, photo in enumerate(train):
        for i, c in enumerate(checkerboard_crops(photo, 0, per_photo, size, rng)):
            Image.fromarray(c).save(root / "trainA" / f"{k}_{i}.png")
        for i, c in enumerate(checkerboard_crops(photo, 1, per_photo, size, rng)):
            Image.fromarray(colour_map(c)).save(root / "trainB" / f"{k}_{i}.png")
    test = [c for photo in held_out for c in random_crops(photo, TEST_PER_PHOTO, size, rng)]
    for i, c in enumerate(test):
        Image.fromarray(c).save(root / "testA" / f"{i}.png")
        Image.fromarray(colour_map(c)).save(root / "testB" / f"{i}.png")
    return test


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="cyclegan", choices=("cyclegan", "cut", "fastcut"))
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--per-photo", type=int, default=40)
    p.add_argument("--recipe", default=RECIPE, help="the model's training flags")
    p.add_argument("--speed-flags", default="--precision auto", help="extra training flags")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        test = make_data(root / "data", a.size, a.per_photo)
        out = root / "run"
        args = ["train", a.model, "--data", str(root / "data"), "--out", str(out),
                "--ngf", str(a.ngf), "--ndf", str(a.ngf), "--crop-size", str(a.size), "--steps", str(a.steps),
                "--log-every", "500", "--sample-every", str(a.steps), "--checkpoint-every", str(a.steps)]  # fmt: skip
        args += a.recipe.split() + a.speed_flags.split()
        t0 = time.perf_counter()
        if cli(args) != 0:
            raise SystemExit("training failed")
        minutes = (time.perf_counter() - t0) / 60
        g = Translator(out, direction="AtoB")
        translated = [psnr(g(x), colour_map(x)).item() for x in test]
        baseline = [psnr(x, colour_map(x)).item() for x in test]
        cycle = "-"
        if a.model == "cyclegan":
            f = Translator(out, direction="BtoA")
            cycle = f"{np.mean([psnr(f(g(x)), x).item() for x in test]):.2f}"
    row = {"model": a.model, "task": "B = T(A), T = (B, 255-R, G)", "steps": a.steps, "train min": f"{minutes:.1f}",
           "PSNR(G(x), T(x)) dB": f"{np.mean(translated):.2f}", "identity baseline dB": f"{np.mean(baseline):.2f}",
           "cycle PSNR dB": cycle}  # fmt: skip
    print(row)
    append_results(
        f"Unpaired known-answer colour task, {len(test)} held-out {a.size} px crops of 2 unseen photos",
        [row],
        notes=f"{a.recipe} {a.speed_flags}, ngf = ndf = {a.ngf}, {a.per_photo} crops per photo and domain",
    )


if __name__ == "__main__":
    main()
