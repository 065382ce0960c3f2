"""Can a sketch say what colour its regions are? pix2pix's U-Net trained on the colour term alone
(the L2 between 16 px local means), scored by the colour error of bench_edges2photo against the
training photos' mean colour, on the corpus's val and test photos.

    python -m benchmarks.bench_colour_probe [--norm instance none] [--steps 2000] [--record]

Cheap by design: the sketches are 4x average-pooled to 64 px (edge density) and G is unet_64 (ngf
32), batch 8, so a run takes minutes. If G beats the mean colour here, region colours are learnable
from sketches, and a pix2pix model that does not learn them is held back by its objective, not by
its data.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from benchmarks.bench_edges2photo import BUNDLED_DATA, scores, training_mean_colour
from benchmarks.common import append_results
from core_gan.data.builders import photo_and_edges
from core_gan.data.images import list_images, open_image, readable
from core_gan.image_losses import COLOUR_WINDOW
from core_gan.models.translators import UNetGenerator
from core_gan.nn import init_weights
from core_gan.pixels import from_uint8, to_uint8

POOL = 4
"""Sketches and photos are average-pooled by this factor (so G sees edge density, not single lines)."""


def pooled_pairs(pairs: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges | photo training pairs -> pooled sketches and photos (N, 3, 64, 64) in [-1, 1]."""
    both = torch.stack([from_uint8(np.asarray(Image.open(p).convert("RGB"))) for p in pairs])
    half = both.shape[-1] // 2
    return F.avg_pool2d(both[..., :half], POOL), F.avg_pool2d(both[..., half:], POOL)


def train(norm: str, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int = 8) -> UNetGenerator:
    torch.manual_seed(0)
    G = UNetGenerator(3, 3, depth=6, ngf=32, norm=norm, upsample="resize")
    init_weights(G)
    opt = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    window = COLOUR_WINDOW // POOL
    for _ in range(steps):
        i = torch.randint(0, len(x), (batch,))
        flip = [3] if torch.rand(()) < 0.5 else []
        loss = F.mse_loss(*(F.avg_pool2d(t, window, stride=1) for t in (G(x[i].flip(flip)), y[i].flip(flip))))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return G.eval()


@torch.no_grad()
def region_colours(G: UNetGenerator, edges: np.ndarray) -> np.ndarray:
    """G's colours of the sketch's 16 px regions, bilinearly upsampled to the sketch's size."""
    out = F.avg_pool2d(G(F.avg_pool2d(from_uint8(edges)[None], POOL)), COLOUR_WINDOW // POOL)
    return to_uint8(F.interpolate(out, size=edges.shape[:2], mode="bilinear"))[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--norm", nargs="+", default=["instance", "none"], help="G's normalisation layers to try")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    train_pairs = BUNDLED_DATA / "edges" / "train"
    x, y = pooled_pairs(sorted(train_pairs.glob("*.png")))
    mean_colour = training_mean_colour(train_pairs)
    table = []
    for norm in a.norm:
        G = train(norm, x, y, a.steps)
        for split in ("val", "test"):
            rows = {"G": [], "mean colour": []}
            for path in readable(list_images(BUNDLED_DATA / "offline-photos" / split)):
                photo, edges = photo_and_edges(open_image(path))
                flat = np.broadcast_to(mean_colour, photo.shape).copy()
                for name, out in (("G", region_colours(G, edges)), ("mean colour", flat)):
                    figures = scores(photo, edges, out)
                    rows[name].append([figures[k] for k in ("Delta E", "PSNR dB", "SSIM")])
            for name, r in rows.items():
                de, db, s = np.mean(r, axis=0)
                table.append({"norm": norm, "split": f"{split} ({len(r)})", "output": name,
                              "Delta E": f"{de:.2f}", "PSNR dB": f"{db:.2f}", "SSIM": f"{s:.3f}"})  # fmt: skip
                print(table[-1], flush=True)
    if a.record:
        append_results("Region colours from sketches: a U-Net on the colour term alone", table,
                       notes=f"unet_64, ngf 32, on {POOL}x-pooled sketches; batch 8, {a.steps} steps")  # fmt: skip


if __name__ == "__main__":
    main()
