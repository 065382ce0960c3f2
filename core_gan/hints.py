"""Colour hints for sketch -> photo: what the user paints, what training samples, what G reads.

A hint is a pixel whose colour the user states. Training draws them from the target photo as Zhang
et al. do ("Real-Time User-Guided Image Colorization with Learned Deep Priors", SIGGRAPH 2017,
``richzhang/colorization-pytorch`` ``add_color_patches_rand_gt``): a geometric number of squares of
side 1-9 px, each holding the photo's mean colour there; a share of images get none (AlacGAN, Ci et
al. 2018: half of each batch), so the model still draws from a sketch alone. Some hints are short
strokes of one colour (Scribbler, Sangkloy et al. 2017), which is what a user paints in the app.

G's input is the sketch followed by ``HINT_CHANNELS`` channels, all in [-1, 1] and all zero where
nothing is hinted (so a model warm-started with zero weights on them computes its parent's output):

====== =========================================================================================
0-2    the hint colours where a hint is, 0 elsewhere
3      the mask: 1 at a hint pixel, 0 elsewhere
4-6    the edge-aware fill: each region bounded by the sketch's lines takes the mean of the hints
       inside it, other pixels the nearest hint's colour (0 everywhere without hints)
7-9    the nearest-hint fill: every pixel the colour of its nearest hint
====== =========================================================================================

The two fills are the trivial baselines the benchmark compares the model with; G gets them as
input, so that it need not learn to propagate colours and can learn what the fills cannot: shading,
texture, and where a colour stops when the sketch's lines have gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from core_gan.config import option
from core_gan.pixels import signed, unsigned

HINT_CHANNELS = 10
"""Channels G reads after the sketch: hint colours (3), mask (1), edge-aware fill (3), nearest fill (3)."""

LINE_LEVEL = 24
"""In a painted sketch, a stroke whose channels are all below this (8-bit) is a line; any other colour is a hint."""

EVAL_SIDE = 5
"""Side of the hint squares of the evaluation protocol (the photo's mean colour in a 5 x 5 px square)."""


@dataclass(frozen=True)
class HintConfig:
    """How training draws hints from the target photo (Zhang et al. 2017, section 3.3 and their code)."""

    hint_p: float = option(
        1 / 8, "hints per hinted image ~ Geometric(p) - 1, mean (1 - p) / p (Zhang et al.: 1/8, mean 7)",
        low=0, high=1, low_open=True,
    )  # fmt: skip
    hint_none_share: float = option(0.5, "share of images trained with no hint at all (AlacGAN: 0.5)", low=0, high=1)
    hint_max_side: int = option(9, "hint squares have a side of 1..N px (Zhang et al.: 9)", low=1)
    hint_stroke_share: float = option(
        0.3, "share of hints drawn as short strokes of one colour (8-32 px long, 3-7 px wide)", low=0, high=1
    )


class Hints:
    """Hint colours (H, W, 3) in [-1, 1] and a boolean mask (H, W): what a user painted or training drew."""

    def __init__(self, colours: np.ndarray, mask: np.ndarray) -> None:
        self.colours = np.where(mask[..., None], colours, 0).astype(np.float32)
        self.mask = mask.astype(bool)

    @classmethod
    def none(cls, height: int, width: int) -> Hints:
        return cls(np.zeros((height, width, 3), np.float32), np.zeros((height, width), bool))

    @classmethod
    def from_rgba(cls, rgba: np.ndarray) -> Hints:
        """An RGBA uint8 image (H, W, 4): opaque pixels (alpha >= 128) are hints in their RGB colour."""
        return cls(signed(rgba[..., :3]), rgba[..., 3] >= 128)

    def to_rgba(self) -> np.ndarray:
        """The inverse of :meth:`from_rgba` (hint pixels opaque, the rest transparent black)."""
        rgb = unsigned(self.colours)
        return np.concatenate([np.where(self.mask[..., None], rgb, 0), self.mask[..., None] * np.uint8(255)], axis=2)

    def paint(self, photo: np.ndarray, top: int, left: int, pixels: np.ndarray) -> None:
        """Hint the boolean ``pixels`` (a window at ``top``, ``left``) with ``photo``'s mean colour there."""
        if not pixels.any():
            return
        h, w = pixels.shape
        window = (slice(top, top + h), slice(left, left + w))
        self.colours[window][pixels] = photo[window][pixels].mean(axis=0)
        self.mask[window] |= pixels


def _stroke(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, np.ndarray]:
    """A straight stroke 8-32 px long and 3-7 px wide at a random place and angle: (top, left, pixels)."""
    length, radius = rng.uniform(8, 32), rng.integers(1, 4) + 0.5
    angle = rng.uniform(0, np.pi)
    dy, dx = length * np.sin(angle), length * np.cos(angle)
    h, w = min(int(abs(dy) + 2 * radius) + 1, height), min(int(abs(dx) + 2 * radius) + 1, width)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    y0, x0 = radius, radius if dx >= 0 else w - 1 - radius
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / (length**2), 0, 1)
    pixels = (yy - y0 - t * dy) ** 2 + (xx - x0 - t * dx) ** 2 <= radius**2
    return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), pixels


def sample_hints(photo: np.ndarray, config: HintConfig, rng: np.random.Generator) -> Hints:
    """Training hints drawn from ``photo`` (H, W, 3) in [-1, 1]: none for a ``hint_none_share`` of
    images, else Geometric(p) - 1 of them, each a square of side 1..max_side or (a ``hint_stroke_share``
    of them) a short stroke, at a uniform place, in the photo's mean colour over its pixels."""
    height, width = photo.shape[:2]
    hints = Hints.none(height, width)
    if rng.random() < config.hint_none_share:
        return hints
    for _ in range(int(rng.geometric(config.hint_p)) - 1):
        if rng.random() < config.hint_stroke_share:
            hints.paint(photo, *_stroke(rng, height, width))
        else:
            side = min(int(rng.integers(1, config.hint_max_side + 1)), height, width)
            top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
            hints.paint(photo, top, left, np.ones((side, side), bool))
    return hints


def evaluation_hints(photo: np.ndarray, count: int, seed: int, strokes: bool = False) -> Hints:
    """The evaluation protocol: ``count`` squares of EVAL_SIDE px at uniform places drawn from ``seed``,
    each the photo's mean colour there (``strokes``: short strokes instead, as a user paints them)."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    side = min(EVAL_SIDE, height, width)
    hints = Hints.none(height, width)
    for _ in range(count):
        if strokes:
            hints.paint(photo, *_stroke(rng, height, width))
            continue
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        hints.paint(photo, top, left, np.ones((side, side), bool))
    return hints


def painted_over(image: np.ndarray, rgba: np.ndarray | None) -> np.ndarray:
    """A uint8 RGB image (H, W, 3) with RGBA hints (H, W, 4) painted over it: what a user sees of G's input."""
    if rgba is None:
        return image
    return np.where(rgba[..., 3:] >= 128, rgba[..., :3], image)


def sketch_lines(sketch: np.ndarray) -> np.ndarray:
    """The line pixels of a sketch (H, W, 3) in [-1, 1] (dark lines on light ground): darker than mid-grey."""
    return sketch.mean(axis=2) < 0


def nearest_fill(hints: Hints) -> np.ndarray:
    """Every pixel the colour of its nearest hint pixel (H, W, 3); zeros without hints."""
    if not hints.mask.any():
        return np.zeros_like(hints.colours)
    from scipy import ndimage  # here: pix2pix imports this module to build G, and never fills

    _, (iy, ix) = ndimage.distance_transform_edt(~hints.mask, return_indices=True)
    return hints.colours[iy, ix]


def edge_aware_fill(hints: Hints, lines: np.ndarray, nearest: np.ndarray | None = None) -> np.ndarray:
    """Each region of non-line pixels (4-connected) that holds hints takes their mean colour; line
    pixels and regions without a hint take the nearest hint's colour (``nearest``: the
    :func:`nearest_fill`, when already at hand) (H, W, 3); zeros without hints."""
    fill = (nearest_fill(hints) if nearest is None else nearest).copy()
    if not hints.mask.any():
        return fill
    from scipy import ndimage

    labels, n = ndimage.label(~lines)
    hinted = labels[hints.mask]
    counts = np.bincount(hinted, minlength=n + 1)
    sums = np.stack([np.bincount(hinted, hints.colours[hints.mask][:, c], minlength=n + 1) for c in range(3)], 1)
    means = sums / np.maximum(counts, 1)[:, None]
    own = (labels > 0) & (counts[labels] > 0)
    fill[own] = means[labels[own]]
    return fill


def encode(sketch: np.ndarray, hints: Hints) -> np.ndarray:
    """G's input (3 + HINT_CHANNELS, H, W) float32 from a sketch (H, W, 3) in [-1, 1] and its hints."""
    nearest = nearest_fill(hints)
    fills = [hints.colours, hints.mask[..., None].astype(np.float32)]
    fills += [edge_aware_fill(hints, sketch_lines(sketch), nearest), nearest]
    return np.concatenate([sketch.astype(np.float32), *fills], axis=2).transpose(2, 0, 1).copy()


def visible(x: torch.Tensor, sketch_channels: int) -> torch.Tensor:
    """What a user sees of G's input (B, C, H, W): its first ``sketch_channels`` with the hints painted
    over them (the input itself when it has no hint channels)."""
    if x.shape[1] == sketch_channels:
        return x
    sketch, colours = x[:, :sketch_channels], x[:, sketch_channels : sketch_channels + 3]
    mask = x[:, sketch_channels + 3 : sketch_channels + 4]
    return torch.where(mask > 0.5, colours, sketch)


def load_with_zero_hints(G: torch.nn.Module, parent: dict[str, torch.Tensor]) -> None:
    """Load a parent's weights into G (or a dict of generators); for a hint-less parent of a hinted G,
    a weight of G that reads more input channels
    than the parent's (the first convolution) gets the parent's weights on the first ones and zeros on
    the hint channels, so G computes exactly the parent's output until training moves them."""
    own = G.state_dict()
    widened = {}
    for key, value in parent.items():
        target = own.get(key)
        if target is not None and value.dim() > 1 and target.shape[1] == value.shape[1] + HINT_CHANNELS:
            extra = value.new_zeros(target.shape[0], target.shape[1] - value.shape[1], *value.shape[2:])
            value = torch.cat([value, extra], dim=1)
        widened[key] = value
    G.load_state_dict(widened)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


class HintedPairs(Dataset):
    """(sketch, photo) pairs -> (G's hinted input, photo). Training draws each item's hints with
    :func:`sample_hints` from a generator seeded by torch's RNG, which the trainer seeds per process
    (``--seed`` + rank) and keeps in every checkpoint, so a resumed run draws what an uninterrupted one
    would (as ``UnpairedFolder`` draws its B images); with ``eval_count``, every item gets that many
    evaluation hints seeded by its index instead."""

    def __init__(self, pairs: Dataset, config: HintConfig, eval_count: int | None = None) -> None:
        self.pairs, self.config, self.eval_count = pairs, config, eval_count

    def __len__(self) -> int:
        return len(self.pairs)  # type: ignore[arg-type]

    def reseed(self, seed: int) -> None:
        if hasattr(self.pairs, "reseed"):
            self.pairs.reseed(seed)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        sketch, photo = self.pairs[i]
        target = _hwc(photo)
        if self.eval_count is None:
            rng = np.random.default_rng(int(torch.randint(2**62, ())))
            hints = sample_hints(target, self.config, rng)
        else:
            hints = evaluation_hints(target, self.eval_count, seed=i)
        return torch.from_numpy(encode(_hwc(sketch), hints)), photo
