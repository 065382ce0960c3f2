"""An unpaired translator judged on held-out images: a small CNN trained on real A vs real B decides
whether G(a) passes for B and F(b) for A; the cycle F(G(a)) must come back to a (PSNR).

    python -m benchmarks.bench_unpaired [--model green2warm] [--data runs/bundled/data/green2warm] [--record]

DATA holds trainA/trainB (the judge learns from them) and testA/testB (scored; never trained on by
the judge or, for the bundled model, by the translator). The judge sees images resized to 128 px.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import append_results
from core_gan.data.images import list_images, open_image, readable
from core_gan.metrics.image_quality import psnr
from core_gan.pixels import from_uint8
from gansuite.inference import Translator
from gansuite.runs import directions, resolve_run

ROOT = Path(__file__).resolve().parents[1]
JUDGE_SIZE = 128


class DomainCNN(nn.Module):
    """Images (B, 3, 128, 128) in [-1, 1] -> the logit of "domain B"."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            channels = out
        self.net = nn.Sequential(
            *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def images(folder: Path) -> list[np.ndarray]:
    return [np.asarray(open_image(p)) for p in readable(list_images(folder))]


def judge_input(batch: list[np.ndarray]) -> torch.Tensor:
    x = torch.stack([from_uint8(image) for image in batch])
    return F.interpolate(x, size=(JUDGE_SIZE, JUDGE_SIZE), mode="bilinear", antialias=True, align_corners=False)


def train_judge(a: list[np.ndarray], b: list[np.ndarray], steps: int = 600, seed: int = 0) -> DomainCNN:
    """Balanced batches of 32 with flips; Adam 1e-3."""
    torch.manual_seed(seed)
    x, y = judge_input(a + b), torch.cat([torch.zeros(len(a)), torch.ones(len(b))])
    weights = torch.cat([torch.full((len(a),), 1 / len(a)), torch.full((len(b),), 1 / len(b))])
    judge = DomainCNN()
    opt = torch.optim.Adam(judge.parameters(), 1e-3)
    for _ in range(steps):
        idx = torch.multinomial(weights, 32, replacement=True)
        batch = x[idx]
        batch = torch.where(torch.rand(32, 1, 1, 1) < 0.5, batch.flip(-1), batch)
        loss = F.binary_cross_entropy_with_logits(judge(batch), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge.eval()


@torch.no_grad()
def fraction_b(judge: DomainCNN, batch: list[np.ndarray]) -> float:
    return float((judge(judge_input(batch)) > 0).float().mean())


def measure(model: str | Path, data: Path) -> list[dict[str, object]]:
    """One row per direction the run translates: the judge on real held-out images of the source, then on
    their translations; the cycle PSNR where the run also translates back (CycleGAN)."""
    run = resolve_run(model)
    translators = {d: Translator(run, direction=d) for d in directions(json.loads((run / "model.json").read_text()))}
    judge = train_judge(images(data / "trainA"), images(data / "trainB"))
    test = {"A": images(data / "testA"), "B": images(data / "testB")}
    rows: list[dict[str, object]] = []
    for direction, translate in translators.items():
        source, target = direction[0], direction[-1]
        fake = [translate(x) for x in test[source]]

        def taken_for_target(batch: list[np.ndarray], target: str = target) -> float:
            return fraction_b(judge, batch) if target == "B" else 1 - fraction_b(judge, batch)

        row: dict[str, object] = {
            "direction": f"{source} -> {target}", "held-out images": len(fake),
            "judge: real correct": 1 - taken_for_target(test[source]),
            "untranslated taken for target": taken_for_target(test[source]),
            "translated taken for target": taken_for_target(fake),
        }  # fmt: skip
        back = translators.get(f"{target}to{source}")
        if back is not None:
            row["cycle PSNR dB"] = np.mean([psnr(back(y), x).item() for x, y in zip(test[source], fake, strict=True)])
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="green2warm", help="an unpaired run (CycleGAN, CUT, FastCUT) or a bundled name")
    p.add_argument("--data", type=Path, default=ROOT / "runs" / "bundled" / "data" / "green2warm")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    table = [{k: f"{v:.2f}" if k == "cycle PSNR dB" else f"{v:.1%}" if isinstance(v, float) else v
              for k, v in row.items()} for row in measure(a.model, a.data)]  # fmt: skip
    for row in table:
        print(row)
    if a.record:
        sizes = f"{len(list_images(a.data / 'trainA'))} A / {len(list_images(a.data / 'trainB'))} B"
        append_results(f"Unpaired {a.model}: domain judge (and cycle) on held-out images", table,
                       notes=f"judge: a 4-layer CNN trained on {sizes} at {JUDGE_SIZE} px, 600 steps")  # fmt: skip


if __name__ == "__main__":
    main()
