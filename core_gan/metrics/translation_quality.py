"""Figures for an image translator whose input does not determine its output (edges -> photo): beside
PSNR/SSIM, how sharp it is, how faithful to the sketch, how free of grid patterns, how close in colour.

Every function takes uint8 RGB arrays (H, W, 3).
"""

from __future__ import annotations

import kornia
import numpy as np
import scipy.ndimage
import torch

from core_gan.data.builders import EdgeConfig, edge_map


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 255


def _luma(image: np.ndarray) -> torch.Tensor:
    return kornia.color.rgb_to_grayscale(_tensor(image))


def gradient_energy(image: np.ndarray) -> float:
    """Mean squared Sobel gradient of the luma: sharpness is this figure of the output over the target's."""
    return float(kornia.filters.sobel(_luma(image)).pow(2).mean())


def colour_error(a: np.ndarray, b: np.ndarray, blur: int = 16) -> float:
    """Mean CIELAB Delta E (CIE76) between the two images box-blurred over ``blur`` x ``blur`` pixels:
    the colours of regions, not of the texture inside them."""
    lab = [kornia.color.rgb_to_lab(kornia.filters.box_blur(_tensor(x), (blur, blur))) for x in (a, b)]
    return float((lab[0] - lab[1]).pow(2).sum(1).sqrt().mean())


def edge_f1(sketch: np.ndarray, output: np.ndarray, config: EdgeConfig = EdgeConfig(), tolerance: int = 2) -> float:
    """Sketch fidelity: the edge recipe run again on the output, F1 of its edge pixels against the
    sketch's (black lines on white) with ``tolerance`` pixels of slack in either direction; 0 when
    either has no edges."""
    wanted, drawn = sketch[..., 0] < 128, edge_map(output, config)[..., 0] < 128
    if not wanted.any() or not drawn.any():
        return 0.0
    near_wanted = scipy.ndimage.distance_transform_edt(~wanted) <= tolerance
    near_drawn = scipy.ndimage.distance_transform_edt(~drawn) <= tolerance
    precision, recall = near_wanted[drawn].mean(), near_drawn[wanted].mean()
    return float(2 * precision * recall / (precision + recall)) if precision + recall > 0 else 0.0


def grid_energy(image: np.ndarray) -> float:
    """Spectral energy of the luma on the lattice of period-2/4/8 frequencies (bins k N/8, l M/8, DC
    left out), where strided up-convolutions leave their checkerboard; per pixel. The grid ratio of an
    output is this figure over its target's."""
    y = _luma(image)[0, 0].double()
    h, w = y.shape
    power = torch.fft.fft2(y - y.mean()).abs().pow(2) / (h * w)
    return float(power[:: max(h // 8, 1), :: max(w // 8, 1)].sum() / (h * w))
