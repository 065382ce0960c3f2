"""Reading image files robustly, and a single-domain image folder dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from core_gan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


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


def open_image(path: str | Path, channels: int = 3) -> Image.Image:
    """Decode ``path`` fully with EXIF orientation applied, as RGB (3 channels) or L (1 channel)."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P") and channels == 3:
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            return im.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise UserError(f"{path}: cannot read image ({e})") from e


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> float tensor (C, H, W) in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def readable(paths: list[Path]) -> list[Path]:
    """The files whose headers PIL can parse; the others are listed once in a warning and skipped."""
    good, bad = [], []
    for p in paths:
        try:
            with Image.open(p) as im:
                im.verify()
            good.append(p)
        except Exception:
            bad.append(p)
    if bad:
        names = ", ".join(str(p) for p in bad[:10]) + (" ..." if len(bad) > 10 else "")
        warnings.warn(f"skipping {len(bad)} unreadable image(s): {names}", stacklevel=2)
    if not good:
        raise UserError(f"{paths[0].parent}: none of the {len(paths)} image files could be read")
    return good


class ImageFolder(Dataset):
    """Images under ``root`` (recursive) as (image (C, S, S) in [-1, 1], label).

    Labels are the index of the first-level sub-folder (sorted names) when images sit in
    sub-folders, else 0. Each image is resized (shorter side to ``image_size``, antialiased) and
    centre-cropped to a square.
    """

    def __init__(self, root: str | Path, image_size: int = 64, channels: int = 3) -> None:
        self.root = Path(root)
        self.files = readable(list_images(self.root))
        self.image_size = image_size
        self.channels = channels
        groups = sorted({p.relative_to(self.root).parts[0] for p in self.files if p.parent != self.root})
        self.classes = groups if groups and all(p.parent != self.root for p in self.files) else []
        index = {name: i for i, name in enumerate(self.classes)}
        self.labels = [index[p.relative_to(self.root).parts[0]] if self.classes else 0 for p in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = open_image(self.files[i], self.channels)
        image = TF.resize(image, self.image_size, antialias=True)
        image = TF.center_crop(image, self.image_size)
        return to_tensor(image), self.labels[i]
