"""Reading image files robustly, and a single-domain image folder dataset.

Every odd kind of file is converted explicitly: EXIF orientation applied; grayscale, palette and
CMYK to RGB; alpha composited on white (or kept, ``keep_alpha``); 16-bit integer images scaled to
8 bits, not clipped. Images over ``MAX_PIXELS`` are refused (decompression bombs). Unreadable files
raise :class:`UserError` naming the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from core_gan.errors import UserError
from core_gan.pixels import from_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")
MAX_PIXELS = 100_000_000  # 10k x 10k; larger files are refused before decoding
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard at the same limit (its default is 89.5 MP)


class Unreadable(UserError):
    """A file that cannot be decoded as an image (skipped by datasets unless ``strict``)."""


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under ``folder`` (recursive, sorted); a missing or image-less folder is an error."""
    root = Path(folder)
    if not root.exists():
        raise UserError(f"{root}: no such folder")
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UserError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return files


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer / float modes -> 8-bit L, scaled by the type's range (not clipped)."""
    array = np.asarray(im)
    if im.mode.startswith("I;16") or im.mode == "I":
        scale = 65535.0 if array.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0
        return Image.fromarray((array.astype(np.float64) / scale * 255).round().clip(0, 255).astype(np.uint8))
    return Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8))  # mode F in [0, 1]


def open_image(
    path: str | Path, channels: int = 3, keep_alpha: bool = False, max_pixels: int | None = None
) -> Image.Image:
    """Decode ``path`` fully, as RGB (3 channels), RGBA (``keep_alpha``) or L (1 channel); ``channels = 0``
    keeps grayscale images L (and the rest RGB or, with ``keep_alpha``, RGBA). Files over
    ``max_pixels`` (default ``MAX_PIXELS``) are refused from their header, before decoding."""
    max_pixels = max_pixels or MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise Unreadable(f"{path}: {im.width}x{im.height} exceeds the {max_pixels:,}-pixel limit")
                im.load()
                im = ImageOps.exif_transpose(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise Unreadable(f"{path}: exceeds the {limit:,}-pixel limit (a possible decompression bomb)") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise Unreadable(f"{path}: cannot read image ({e})") from e
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        im = _to_8bit(im)
    if channels == 1 or (channels == 0 and im.mode in ("1", "L")):
        return im.convert("L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        if keep_alpha:
            return rgba
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return im.convert("RGB")  # L, P, CMYK, YCbCr, RGB


def open_hints(path: str | Path) -> Image.Image:
    """A colour-hints image (see core_gan.hints), RGBA: it must have an alpha channel (opaque pixels
    are hints)."""
    image = open_image(path, keep_alpha=True)
    if image.mode != "RGBA":
        raise UserError(f"{path}: colour hints need an alpha channel (an RGBA PNG: opaque pixels are hints)")
    return image


HINTS_ASPECT_TOLERANCE = 0.02
"""Hints may differ in size from their input (they are scaled), not in shape by more than this."""


def hints_array(hints: Image.Image, width: int, height: int, name: str = "the hints") -> np.ndarray:
    """Hints as uint8 RGBA (height, width, 4), scaled with nearest neighbours (a hint stays one colour);
    hints of another shape than the input are refused (scaled, they would land elsewhere)."""
    w, h = hints.size
    if abs(w * height - h * width) > HINTS_ASPECT_TOLERANCE * w * height:
        raise UserError(f"{name}: hints of {w}x{h} do not have the shape of their input ({width}x{height})")
    if hints.size != (width, height):
        hints = hints.resize((width, height), Image.Resampling.NEAREST)
    return np.asarray(hints)


def resize_short_side(image: Image.Image, side: int) -> Image.Image:
    """Resized (LANCZOS, aspect kept) so that its shorter side is ``side`` pixels."""
    scale = side / min(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """uint8 image (H, W[, C]) -> float tensor (C, H, W) in [-1, 1]."""
    array = np.asarray(image)
    return from_uint8(array[:, :, None] if array.ndim == 2 else array)


def readable(paths: list[Path], strict: bool = False) -> list[Path]:
    """The files whose headers PIL can parse; the others are listed once in a warning and skipped
    (``strict``: the first one is an error). Truncated data is caught later, at decode time."""
    good, bad = [], []
    for p in paths:
        try:
            with Image.open(p):
                good.append(p)
        except Exception as e:
            if strict:
                raise UserError(f"{p}: cannot read image ({e})") from e
            bad.append(p)
    if bad:
        warn_skipped(bad)
    if not good:
        raise UserError(f"{paths[0].parent}: none of the {len(paths)} image files could be read")
    return good


def warn_skipped(bad: list[Path]) -> None:
    names = ", ".join(str(p) for p in bad[:10]) + (" ..." if len(bad) > 10 else "")
    warnings.warn(f"skipping {len(bad)} unreadable image(s): {names}", stacklevel=3)


class RobustDataset(Dataset):
    """Base for folder datasets: an item whose file fails to decode is replaced by the next good one
    (the file is named once in a warning), or, when ``strict``, stops the run naming the file."""

    strict: bool = False

    def __init__(self) -> None:
        self._bad: set[int] = set()

    def load(self, i: int) -> object:
        raise NotImplementedError

    def __getitem__(self, i: int):
        n = len(self)  # type: ignore[arg-type]
        for k in range(n):
            j = (i + k) % n
            if j in self._bad:
                continue
            try:
                return self.load(j)
            except Unreadable as e:
                if self.strict:
                    raise
                self._bad.add(j)
                warnings.warn(f"skipping unreadable image: {e}", stacklevel=2)
        raise UserError("every image of the dataset failed to decode")


class ImageFolder(RobustDataset):
    """Images under ``root`` (recursive) as (image (C, S, S) in [-1, 1], label).

    Labels are the index of the first-level sub-folder (sorted names) when every image sits in a
    sub-folder, else 0. Each image is resized (shorter side to ``image_size``, antialiased) and
    centre-cropped to a square.
    """

    def __init__(self, root: str | Path, image_size: int = 64, channels: int = 3, strict: bool = False) -> None:
        super().__init__()
        self.root = Path(root)
        self.strict = strict
        self.files = readable(list_images(self.root), strict)
        self.image_size = image_size
        self.channels = channels
        in_subfolders = all(p.parent != self.root for p in self.files)
        self.classes = sorted({p.relative_to(self.root).parts[0] for p in self.files}) if in_subfolders else []
        index = {name: i for i, name in enumerate(self.classes)}
        self.labels = [index[p.relative_to(self.root).parts[0]] if self.classes else 0 for p in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> tuple[torch.Tensor, int]:
        from torchvision.transforms import functional as TF  # imported here: upscale/translate open images without it

        image = open_image(self.files[i], self.channels)
        image = TF.resize(image, self.image_size, antialias=True)
        image = TF.center_crop(image, self.image_size)
        return to_tensor(image), self.labels[i]
