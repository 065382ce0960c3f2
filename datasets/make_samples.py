"""Recipe for datasets/samples/photos: public-domain / CC0 photos shipped with scikit-image, centre-
cropped and resized to 256x256 JPEGs. Run once with scikit-image installed; the outputs are committed.

    python datasets/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).with_name("samples") / "photos"
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


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Licences of the bundled sample photos", "", "| file | source | licence |", "|---|---|---|"]
    for name, (load, licence) in PHOTOS.items():
        square(load()).save(OUT / f"{name}.jpg", quality=90)
        lines.append(f"| photos/{name}.jpg | scikit-image `data.{name}` | {licence} |")
    (OUT.parent / "LICENSES.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
