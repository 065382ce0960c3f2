"""Recipe for datasets/samples: public-domain / CC0 photos shipped with scikit-image, as ``photos/``
(centre-cropped, resized to 256x256; pix2pix and the apps' examples) and ``hr/`` (whole photos, long
side at most 640 px; super-resolution training). Run once with scikit-image installed; the outputs
are committed.

    python datasets/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).with_name("samples") / "photos"
HR = OUT.parent / "hr"
# name -> (loader, licence as stated in scikit-image's docstring)
PHOTOS = {
    "astronaut": (data.astronaut, "public domain (NASA)"),
    "chelsea": (data.chelsea, "CC0 (Stefan van der Walt)"),
    "coffee": (data.coffee, "CC0 (Rachel Michetti)"),
    "rocket": (data.rocket, "public domain (SpaceX)"),
    "immunohistochemistry": (data.immunohistochemistry, "no known copyright restrictions (CMMI)"),
    "retina": (data.retina, "CC0 1.0 (Mikael Häggström, via Wikimedia)"),
    "hubble_deep_field": (data.hubble_deep_field, "public domain (NASA)"),
}


def square(image: np.ndarray, size: int = 256) -> Image.Image:
    im = Image.fromarray(image).convert("RGB")
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    return im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def high_resolution(image: np.ndarray, long_side: int = 640) -> Image.Image:
    im = Image.fromarray(image).convert("RGB")
    factor = min(1.0, long_side / max(im.size))
    size = (round(im.width * factor), round(im.height * factor))
    return im if factor == 1.0 else im.resize(size, Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    HR.mkdir(parents=True, exist_ok=True)
    lines = ["# Licences of the bundled sample photos", "", "| file | source | licence |", "|---|---|---|"]
    for name, (load, licence) in PHOTOS.items():
        image = load()
        square(image).save(OUT / f"{name}.jpg", quality=90)
        high_resolution(image).save(HR / f"{name}.jpg", quality=95)
        lines.append(f"| photos/{name}.jpg, hr/{name}.jpg | scikit-image `data.{name}` | {licence} |")
    (OUT.parent / "LICENSES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
