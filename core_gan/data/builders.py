"""Dataset builders: edges-to-photo pairs (Canny, as edges2shoes was made with HED), folder pairing,
and super-resolution sub-images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import kornia
import numpy as np
import scipy.ndimage
import torch
from PIL import Image
from tqdm import tqdm

from core_gan.checkpoint import atomic_write
from core_gan.data.images import list_images, open_image, readable
from core_gan.errors import UserError
from core_gan.outputs import check_folder, check_outputs


@dataclass(frozen=True)
class EdgeConfig:
    """Canny on a Gaussian-smoothed grayscale image (sigma 2, 7x7), hysteresis thresholds 0.1 / 0.2;
    edges thickened by ``dilate`` pixels and fragments under ``min_fragment`` pixels dropped; black
    lines on white, like the sketches of edges2shoes."""

    size: int = 256
    low: float = 0.1
    high: float = 0.2
    kernel_size: int = 7
    sigma: float = 2.0
    dilate: int = 0
    min_fragment: int = 10


def _square(image: Image.Image, size: int, resample: Image.Resampling = Image.Resampling.LANCZOS) -> Image.Image:
    """Centre-crop to a square, then resize to ``size`` (antialiased; ``NEAREST`` for colour hints)."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), resample)


def square_hints(hints: Image.Image, config: EdgeConfig = EdgeConfig()) -> Image.Image:
    """Colour hints drawn on a photo, cut as :func:`photo_and_edges` cuts the photo (nearest neighbours)."""
    return _square(hints, config.size, Image.Resampling.NEAREST)


def hysteresis(edges: np.ndarray) -> np.ndarray:
    """Canny's edge tracking on a thresholded map (0, weak 0.5, strong 1): the weak pixels joined to a
    strong one through weak 8-neighbours, and the strong ones. Labelling the connected components once
    gives what kornia's iteration converges to (one 3x3 convolution per pixel of the longest chain:
    40-odd on a 256 px photo, 14x slower)."""
    labels, count = scipy.ndimage.label(edges > 0, structure=np.ones((3, 3)))
    has_strong = np.zeros(count + 1, bool)
    has_strong[labels[edges == 1]] = True
    has_strong[0] = False
    return has_strong[labels]


@torch.no_grad()
def edge_map(photo: np.ndarray, config: EdgeConfig = EdgeConfig()) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 RGB edge sketch (H, W, 3): black edges on white."""
    x = torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None].float() / 255
    gray = kornia.color.rgb_to_grayscale(x)
    _, thresholded = kornia.filters.canny(
        gray, config.low, config.high, kernel_size=config.kernel_size, sigma=(config.sigma, config.sigma),
        hysteresis=False,
    )  # fmt: skip
    mask = hysteresis(thresholded[0, 0].numpy())
    if config.dilate > 0:
        mask = scipy.ndimage.binary_dilation(mask, np.ones((2 * config.dilate + 1,) * 2))
    if config.min_fragment > 1:
        labels, count = scipy.ndimage.label(mask, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        mask &= sizes[labels] >= config.min_fragment
    sketch = np.where(mask, 0, 255).astype(np.uint8)
    return np.repeat(sketch[:, :, None], 3, axis=2)


def photo_and_edges(image: Image.Image, config: EdgeConfig = EdgeConfig()) -> tuple[np.ndarray, np.ndarray]:
    """The recipe of ``gansuite data edges`` (and of the edges-to-photo app): the centre square at
    ``config.size``, and its Canny sketch; both uint8 RGB (size, size, 3)."""
    photo = np.asarray(_square(image, config.size))
    return photo, edge_map(photo, config)


def _save_png(array: np.ndarray, path: Path) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def build_edges(src: str | Path, dst: str | Path, config: EdgeConfig = EdgeConfig(), overwrite: bool = False) -> int:
    """Photos under ``src`` -> ``dst/<name>.png`` holding edges | photo side by side (A = edges); an
    existing pair is replaced only with ``overwrite``, a photo never."""
    files = readable(list_images(src))
    out = Path(dst)
    check_folder(out, "DST")
    check_outputs([out / f"{path.stem}.png" for path in files], files, overwrite, flag="DST")
    for path in tqdm(files, desc="edges", unit="img"):
        photo, edges = photo_and_edges(open_image(path), config)
        _save_png(np.concatenate([edges, photo], axis=1), out / f"{path.stem}.png")
    return len(files)


def combine(a_dir: str | Path, b_dir: str | Path, dst: str | Path, overwrite: bool = False) -> int:
    """``A/x`` and ``B/x`` (same file name, same size) -> ``dst/x.png`` with A | B side by side; an
    existing pair is replaced only with ``overwrite``, an input never."""
    a = {p.relative_to(a_dir).with_suffix(""): p for p in readable(list_images(a_dir))}
    b = {p.relative_to(b_dir).with_suffix(""): p for p in readable(list_images(b_dir))}
    common = sorted(a.keys() & b.keys())
    if not common:
        raise UserError(f"{a_dir} and {b_dir}: no file names in common")
    check_folder(Path(dst), "DST")
    outputs = [Path(dst) / key.with_suffix(".png") for key in common]
    check_outputs(outputs, [*a.values(), *b.values()], overwrite, flag="DST")
    for key in tqdm(common, desc="combine", unit="pair"):
        left, right = np.asarray(open_image(a[key])), np.asarray(open_image(b[key]))
        if left.shape != right.shape:
            raise UserError(f"{b[key]}: size {right.shape[1]}x{right.shape[0]} differs from {a[key]}")
        _save_png(np.concatenate([left, right], axis=1), Path(dst) / key.with_suffix(".png"))
    return len(common)


def sr_crops(src: str | Path, dst: str | Path, size: int = 480, step: int = 240) -> int:
    """Cut each HR image into ``size``-pixel sub-images every ``step`` pixels (the last ones flush with
    the border), as BasicSR does for DIV2K: random crops then read small files, not 2K images."""
    count = 0
    check_folder(Path(dst), "DST")
    if Path(dst).is_dir() and any(Path(dst).iterdir()):
        raise UserError(f"DST {dst}: holds files already; sr-crops writes into a new or empty folder")
    for path in tqdm(readable(list_images(src)), desc="sr-crops", unit="img"):
        image = np.asarray(open_image(path))
        h, w = image.shape[:2]
        if min(h, w) < size:
            raise UserError(f"{path}: {w}x{h} is smaller than the {size}px sub-image")
        ys = sorted({*range(0, h - size + 1, step), h - size})
        xs = sorted({*range(0, w - size + 1, step), w - size})
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                _save_png(image[y : y + size, x : x + size], Path(dst) / f"{path.stem}_s{i:03d}_{j:03d}.png")
                count += 1
    return count
