"""The translation models' datasets, reading the public datasets' own layouts (see SPEC.md).

Every item is a pair of float tensors (3, H, W) in [-1, 1]: (A, B) for pix2pix, (A, B) unpaired for
CycleGAN, (LR, HR) for super-resolution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core_gan.data.images import RobustDataset, list_images, open_image, readable, to_tensor
from core_gan.data.transforms import PairedTransformConfig, deterministic_resize, random_part, sr_augment
from core_gan.errors import UserError
from core_gan.pixels import quantise

DIRECTIONS = ("AtoB", "BtoA")


def _read(path: Path) -> np.ndarray:
    return np.asarray(open_image(path, 3))


SIDE_BY_SIDE = 1.5
"""An A|B pair is at least this many times as wide as tall (two square halves: 2; two 3:4 portraits: 1.5)."""


def check_side_by_side(path: Path) -> None:
    """Refuse an image that cannot be A and B side by side (a square or ordinary photo would be cut
    into two unrelated halves and train as nonsense)."""
    with Image.open(path) as image:
        width, height = image.size
    if width < SIDE_BY_SIDE * height:
        raise UserError(
            f"{path}: {width}x{height} is not an A|B pair side by side (a pair is at least {SIDE_BY_SIDE:g}x as wide "
            "as tall); build pairs with `gansuite data combine` or use DATA/A/train + DATA/B/train"
        )


class PairedFolder(RobustDataset):
    """pix2pix data: ``DATA/{split}/*`` with A | B side by side (split at half width), or
    ``DATA/A/{split}`` + ``DATA/B/{split}`` matched by file name; a folder of side-by-side images
    also works directly. Yields (input, target): (A, B), or (B, A) with ``direction="BtoA"``."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        direction: str = "AtoB",
        transform: PairedTransformConfig | None = None,
        train: bool = True,
        seed: int | None = None,
        strict: bool = False,
    ) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise UserError(f"--direction {direction}: expected AtoB or BtoA")
        self.root, self.split, self.direction, self.strict = Path(root), split, direction, strict
        self.config = transform or PairedTransformConfig()
        self.pairs = self._find_pairs()
        self.augment = random_part(self.config, train, seed, paired=True)

    def _find_pairs(self) -> list[tuple[Path, Path | None]]:
        a_dir, b_dir = self.root / "A" / self.split, self.root / "B" / self.split
        if a_dir.is_dir() and b_dir.is_dir():
            a = {p.name: p for p in readable(list_images(a_dir), self.strict)}
            b = {p.name: p for p in readable(list_images(b_dir), self.strict)}
            common = sorted(a.keys() & b.keys())
            if not common:
                raise UserError(f"{a_dir} and {b_dir}: no file names in common")
            return [(a[k], b[k]) for k in common]
        folder = self.root / self.split if (self.root / self.split).is_dir() else self.root
        if not self.root.is_dir():
            raise UserError(f"{self.root}: no such folder")
        files = readable(list_images(folder), self.strict)
        for path in files:
            check_side_by_side(path)
        return [(p, None) for p in files]

    def __len__(self) -> int:
        return len(self.pairs)

    def reseed(self, seed: int) -> None:
        self.augment.set_random_seed(seed)

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path_a, path_b = self.pairs[i]
        if path_b is None:
            both = _read(path_a)
            half = both.shape[1] // 2
            if half < 1:
                raise UserError(f"{path_a}: too narrow to hold A and B side by side")
            a, b = both[:, :half], both[:, half : 2 * half]
        else:
            a, b = _read(path_a), _read(path_b)
            if a.shape != b.shape:
                raise UserError(f"{path_b}: size {b.shape[1]}x{b.shape[0]} differs from its pair {path_a}")
        a, b = deterministic_resize(a, self.config), deterministic_resize(b, self.config)
        out = self.augment(image=a, image_b=b)
        a_t, b_t = to_tensor(out["image"]), to_tensor(out["image_b"])
        return (a_t, b_t) if self.direction == "AtoB" else (b_t, a_t)


class UnpairedFolder(RobustDataset):
    """CycleGAN data: ``DATA/{phase}A`` and ``DATA/{phase}B``. An epoch is the larger domain; item i
    is A[i mod |A|] with a random B (or B[i mod |B|] with ``serial``), drawn from torch's generator,
    which the trainer seeds with ``--seed`` and saves in every checkpoint (a resumed run draws the same
    B). Each side is augmented on its own. ``direction`` BtoA swaps the roles of the two folders."""

    def __init__(
        self,
        root: str | Path,
        phase: str = "train",
        transform: PairedTransformConfig | None = None,
        train: bool = True,
        serial: bool = False,
        seed: int | None = None,
        strict: bool = False,
        direction: str = "AtoB",
    ) -> None:
        super().__init__()
        self.root, self.serial, self.strict = Path(root), serial or not train, strict
        self.config = transform or PairedTransformConfig()
        self.a = readable(list_images(self.root / f"{phase}A"), strict)
        self.b = readable(list_images(self.root / f"{phase}B"), strict)
        if direction == "BtoA":
            self.a, self.b = self.b, self.a
        self.augment = random_part(self.config, train, seed, paired=False)

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def reseed(self, seed: int) -> None:
        self.augment.set_random_seed(seed)

    def _side(self, path: Path) -> torch.Tensor:
        return to_tensor(self.augment(image=deterministic_resize(_read(path), self.config))["image"])

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        j = i % len(self.b) if self.serial else int(torch.randint(len(self.b), ()))
        return self._side(self.a[i % len(self.a)]), self._side(self.b[j])


def bicubic_downsample(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """HR (..., 3, H, W) in [-1, 1] with H, W multiples of ``scale`` -> LR, antialiased bicubic
    (MATLAB ``imresize``'s kernel, the SRGAN/DIV2K protocol), rounded to 8 bits like a saved LR file."""
    batch = hr[None] if hr.dim() == 3 else hr
    lr = F.interpolate(batch, scale_factor=1 / scale, mode="bicubic", antialias=True, align_corners=False)
    lr = quantise(lr)
    return lr[0] if hr.dim() == 3 else lr


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


class SRFolder(RobustDataset):
    """Super-resolution data: ``DATA/`` (or ``DATA/HR``) of HR images, LR made on the fly, or
    ``DATA/HR`` + ``DATA/LR_x{scale}`` matched by name. Training yields random HR crops of
    ``crop`` pixels with the matching LR crop, flipped and rotated together, enough crops per image
    per epoch for ``min_length`` items (a few large photos still fill a batch); evaluation yields
    whole images (HR cut to a multiple of the scale)."""

    def __init__(
        self,
        root: str | Path,
        scale: int = 4,
        crop: int = 96,
        train: bool = True,
        seed: int | None = None,
        strict: bool = False,
        min_length: int = 1,
    ) -> None:
        super().__init__()
        if crop % scale:
            raise UserError(f"--crop-size {crop}: must be a multiple of the scale {scale}")
        self.root, self.scale, self.crop, self.train, self.strict = Path(root), scale, crop, train, strict
        hr_dir = self.root / "HR" if (self.root / "HR").is_dir() else self.root
        self.hr = readable(list_images(hr_dir), strict)
        self.repeat = -(-min_length // len(self.hr)) if train else 1
        lr_dir = self.root / f"LR_x{scale}"
        self.lr: dict[str, Path] = {}
        if lr_dir.is_dir():
            self.lr = {p.stem: p for p in list_images(lr_dir)}
            missing = [p.name for p in self.hr if p.stem not in self.lr]
            if missing:
                raise UserError(f"{lr_dir}: no LR image for {', '.join(missing[:3])}")
        self.augment = sr_augment(seed)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.hr) * self.repeat

    def reseed(self, seed: int) -> None:
        self.augment.set_random_seed(seed)
        self.rng = np.random.default_rng(seed)

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.hr[i % len(self.hr)]
        hr = crop_to_multiple(_read(path), self.scale)
        s = self.scale
        lr = _read(self.lr[path.stem]) if self.lr else None
        if lr is not None and (lr.shape[0] * s, lr.shape[1] * s) != hr.shape[:2]:
            raise UserError(f"{self.lr[path.stem]}: {lr.shape[1]}x{lr.shape[0]} is not {path.name} / {s}")
        if self.train:
            if min(hr.shape[:2]) < self.crop:
                raise UserError(f"{path}: {hr.shape[1]}x{hr.shape[0]} is smaller than the {self.crop}px crop")
            y = int(self.rng.integers(0, (hr.shape[0] - self.crop) // s + 1))
            x = int(self.rng.integers(0, (hr.shape[1] - self.crop) // s + 1))
            c = self.crop // s
            hr = hr[y * s : (y + c) * s, x * s : (x + c) * s]
            lr = lr[y : y + c, x : x + c] if lr is not None else None
        if lr is None:
            hr_t = to_tensor(self.augment(image=hr)["image"] if self.train else hr)
            return bicubic_downsample(hr_t, s), hr_t
        if self.train:
            out = self.augment(image=lr, image_b=hr)
            lr, hr = out["image"], out["image_b"]
        return to_tensor(lr), to_tensor(hr)
