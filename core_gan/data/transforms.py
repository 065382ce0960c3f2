"""Augmentation with albumentations: pix2pix's preprocess modes with identical random parameters on
A and B, and super-resolution's paired flips and rotations. Images are uint8 (H, W, C) arrays here;
datasets turn them into tensors in [-1, 1] at the end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import albumentations as A
import cv2
import numpy as np

Preprocess = Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"]
PREPROCESS: tuple[str, ...] = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")


@dataclass(frozen=True)
class PairedTransformConfig:
    """pix2pix/CycleGAN preprocessing (the reference code's ``--preprocess``, ``--load_size``,
    ``--crop_size``, ``--no_flip``). ``none`` only rounds each side to a multiple of 4."""

    preprocess: Preprocess = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_CUBIC)


def deterministic_resize(image: np.ndarray, config: PairedTransformConfig) -> np.ndarray:
    """The non-random part of the preprocessing: a resize that depends only on the image size."""
    h, w = image.shape[:2]
    if config.preprocess == "resize_and_crop":
        return _resize(image, config.load_size, config.load_size)
    if config.preprocess.startswith("scale_width"):
        return _resize(image, config.load_size, max(round(config.load_size * h / w), config.crop_size))
    if config.preprocess == "none":
        return _resize(image, max(4, round(w / 4) * 4), max(4, round(h / 4) * 4))
    return image


def random_part(config: PairedTransformConfig, train: bool, seed: int | None, paired: bool) -> A.Compose:
    """Crop (random when training, centred otherwise) and flip, the same for ``image`` and ``image_b``."""
    steps: list[A.BasicTransform] = []
    if config.preprocess.endswith("crop"):
        crop = A.RandomCrop if train else A.CenterCrop
        steps.append(crop(config.crop_size, config.crop_size, pad_if_needed=True))
    if train and config.flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, additional_targets={"image_b": "image"} if paired else {}, seed=seed)


def sr_augment(seed: int | None) -> A.Compose:
    """Random flips and 90-degree rotations, the same for the LR (``image``) and HR (``image_b``) crops."""
    return A.Compose(
        [A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5), A.RandomRotate90(p=0.5)],
        additional_targets={"image_b": "image"},
        seed=seed,
        is_check_shapes=False,  # LR and HR differ in size by design; flips and rot90 act the same
    )
