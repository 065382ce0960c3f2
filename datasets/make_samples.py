"""Recipe for datasets/samples: public-domain / CC0 photos shipped with scikit-image, as ``photos/``
(centre-cropped, resized to 256x256; pix2pix and the apps' examples) and ``hr/`` (whole photos, long
side at most 640 px; super-resolution training); and ``painted/``: each photo's edges (the recipe of
`gansuite data edges`) with a layer of colour strokes of the photo's own colours, the edges-to-photo
app's painted examples. Run once with scikit-image installed; the outputs are committed.

    python datasets/make_samples.py [--painted-only]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).with_name("samples") / "photos"
HR = OUT.parent / "hr"
PAINTED = OUT.parent / "painted"
# name -> licence as stated in scikit-image's docstring (the loader is skimage.data.NAME)
PHOTOS = {
    "astronaut": "public domain (NASA)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "rocket": "public domain (SpaceX)",
    "immunohistochemistry": "no known copyright restrictions (CMMI)",
    "retina": "CC0 1.0 (Mikael Häggström, via Wikimedia)",
    "hubble_deep_field": "public domain (NASA)",
}
STROKES = 24
"""Colour strokes per painted example: enough to say what colour each large region is."""


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


def painted(photo: Path, seed: int) -> None:
    """``painted/NAME_edges.png`` and ``NAME_hints.png`` (RGBA: STROKES short strokes of the photo's mean
    colour under each, as a user paints them; core_gan.hints.evaluation_hints with ``strokes``). A
    stroke darker than LINE_LEVEL is lifted to it, so that the app reads it as a hint, not a line."""
    from core_gan.data.builders import photo_and_edges
    from core_gan.data.images import open_image
    from core_gan.hints import LINE_LEVEL, evaluation_hints
    from core_gan.pixels import signed

    square_photo, edges = photo_and_edges(open_image(photo))
    hints = evaluation_hints(signed(square_photo), STROKES, seed, strokes=True).to_rgba()
    dark = (hints[..., 3] > 0) & (hints[..., :3].max(axis=2) < LINE_LEVEL)
    hints[dark, :3] = np.maximum(hints[dark, :3], LINE_LEVEL)
    Image.fromarray(edges).save(PAINTED / f"{photo.stem}_edges.png")
    Image.fromarray(hints).save(PAINTED / f"{photo.stem}_hints.png")


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--painted-only", action="store_true", help="only remake painted/ from the committed photos/")
    if not p.parse_args().painted_only:
        from skimage import data

        OUT.mkdir(parents=True, exist_ok=True)
        HR.mkdir(parents=True, exist_ok=True)
        lines = ["# Licences of the bundled sample photos", "", "| file | source | licence |", "|---|---|---|"]
        for name, licence in PHOTOS.items():
            image = getattr(data, name)()
            square(image).save(OUT / f"{name}.jpg", quality=90)
            high_resolution(image).save(HR / f"{name}.jpg", quality=95)
            lines.append(f"| photos/{name}.jpg, hr/{name}.jpg | scikit-image `data.{name}` | {licence} |")
        (OUT.parent / "LICENSES.md").write_text("\n".join(lines) + "\n")
    PAINTED.mkdir(exist_ok=True)
    for seed, name in enumerate(PHOTOS):
        painted(OUT / f"{name}.jpg", seed)


if __name__ == "__main__":
    main()
