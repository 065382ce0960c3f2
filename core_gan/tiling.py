"""Apply an image-to-image network to an image of any size, one tile at a time, without seams.

The input is cut into a grid of ``tile`` x ``tile`` cores. Each core is run with ``overlap`` pixels of
real context on every side, so the network sees what it would see in the whole image; neighbouring
outputs are then cross-faded over a band of ``overlap`` pixels centred on the core boundary with
linear weights that sum to one (a partition of unity), so no boundary is visible.

Memory is bounded by the tile, not the image: one tile row of float output (tile + overlap rows,
the full width) is kept at a time; finished rows go straight to the (uint8) result.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from core_gan.checkpoint import first_line

Network = Callable[[torch.Tensor], torch.Tensor]


def _cores(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def _span(start: int, end: int, length: int, half: float, scale: int) -> tuple[int, int]:
    """Output pixels a core [start, end) contributes to: its blend bands reach ``half`` past inner edges."""
    low = max(start - half, 0) if start > 0 else 0
    high = min(end + half, length) if end < length else length
    return round(low * scale), round(high * scale)


def _ramp(span: tuple[int, int], scale: int, start: int, end: int, length: int, half: float) -> torch.Tensor:
    """Weights of a core's output pixels ``span`` along one axis: rising across the band around
    ``start``, falling across the band around ``end``, flat at the image's own borders. Where two
    neighbouring cores overlap their weights sum to one."""
    centres = (torch.arange(*span, dtype=torch.float32) + 0.5) / scale  # in input pixels
    weight = torch.ones(len(centres))
    if half > 0 and start > 0:
        weight = weight * ((centres - (start - half)) / (2 * half)).clamp(0, 1)
    if half > 0 and end < length:
        weight = weight * ((end + half - centres) / (2 * half)).clamp(0, 1)
    return weight


def to_hwc(x: torch.Tensor, dtype: type = np.uint8) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W, C): uint8 in [0, 255], or float32 in [0, 1]."""
    x = x.clamp(0, 1).permute(1, 2, 0)
    return x.numpy().astype(np.float32) if dtype == np.float32 else (x * 255).round().to(torch.uint8).numpy()


@torch.no_grad()
def run_tiled(
    network: Network,
    image: torch.Tensor,
    scale: int,
    tile: int = 512,
    overlap: int = 32,
    progress: Callable[[int, int], None] | None = None,
    dtype: type = np.uint8,
) -> np.ndarray:
    """``network`` on ``image`` (C, H, W) in [0, 1] (values it returns are clamped to [0, 1]) ->
    (scale H, scale W, C) of ``dtype`` (see :func:`to_hwc`). ``tile = 0`` runs the whole image at
    once. ``progress(done, total)`` is called after each tile. An error in a tile propagates, naming
    the tile: no partial result is returned."""
    c, h, w = image.shape
    if tile > 0 and not 0 <= overlap < tile:
        raise ValueError(f"tile overlap must be in [0, tile), got overlap {overlap} with tile {tile}")
    if tile <= 0 or max(h, w) <= tile:  # one tile: nothing to blend, no float canvas to fill
        whole = network(image[None])[0].float().cpu()
        if progress is not None:
            progress(1, 1)
        return to_hwc(whole, dtype)
    half = overlap / 2
    rows, cols = _cores(h, tile), _cores(w, tile)
    out = np.empty((h * scale, w * scale, c), dtype)
    carry = torch.zeros(c, 0, w * scale)  # the previous tile row's share of the band it shares with this one
    for r, (y0, y1) in enumerate(rows):
        ya, yb = max(0, y0 - overlap), min(h, y1 + overlap)  # the rows the network sees
        oy = _span(y0, y1, h, half, scale)
        wy = _ramp(oy, scale, y0, y1, h, half)
        strip = torch.zeros(c, oy[1] - oy[0], w * scale)
        for i, (x0, x1) in enumerate(cols):
            xa, xb = max(0, x0 - overlap), min(w, x1 + overlap)
            try:
                result = network(image[None, :, ya:yb, xa:xb])[0].float().cpu()
            except RuntimeError as e:
                raise RuntimeError(f"tile at x={xa}, y={ya}: {first_line(e)}") from e
            if result.shape != (c, (yb - ya) * scale, (xb - xa) * scale):
                raise RuntimeError(f"the network returned {tuple(result.shape)} for a {xb - xa}x{yb - ya} tile")
            ox = _span(x0, x1, w, half, scale)
            wx = _ramp(ox, scale, x0, x1, w, half)
            patch = result[:, oy[0] - ya * scale : oy[1] - ya * scale, ox[0] - xa * scale : ox[1] - xa * scale]
            strip[:, :, ox[0] : ox[1]] += patch * wy[:, None] * wx[None, :]
            if progress is not None:
                progress(r * len(cols) + i + 1, len(rows) * len(cols))
        strip[:, : carry.shape[1]] += carry
        finished = oy[1] if y1 >= h else _span(y1, h, h, half, scale)[0]
        out[oy[0] : finished] = to_hwc(strip[:, : finished - oy[0]], dtype)
        carry = strip[:, finished - oy[0] :]
    return out
