"""DCGAN and cGAN on scikit-learn's digits at 32 px, judged by a CNN trained on real digits.

Reports the judge's held-out accuracy, the class-histogram entropy of generated samples (mode
collapse shows as low entropy; ln 10 = 2.303 is uniform), for cgan the fraction classified as the
requested label and the within-class diversity (50 samples per class at 8 x 8 px, their mean pairwise
distance over that of the real digits of the class: the average and the lowest class, as
`gansuite diagnose` measures it), and the DCGAN paper's representation-learning probe: a linear
classifier on the frozen discriminator's features vs on raw pixels, held-out digit accuracy.

    python -m benchmarks.bench_digits [--only cgan] [--cgan-flags "--mode-seeking 1"]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.common import append_results
from core_gan.checkpoint import load_checkpoint
from core_gan.config import config_from_dict
from core_gan.metrics.digits import histogram_entropy, predict, split, train_classifier
from core_gan.models.dcgan import DCGANConfig, DCGANDiscriminator
from gansuite.cli import main as cli
from gansuite.diagnose import sample_diversity
from gansuite.inference import BaseGANModel


def train(model: str, out: Path, extra: list[str]) -> float:
    """``gansuite train MODEL --data digits`` with ``extra`` flags (none: the built-in digits recipe)."""
    t0 = time.perf_counter()
    args = ["train", model, "--data", "digits", "--out", str(out), *extra]
    if cli(args) != 0:
        raise SystemExit(f"training failed: {args}")
    return time.perf_counter() - t0


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> float:
    """Held-out accuracy of an L2-regularised softmax regression on fixed, standardised features."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    torch.manual_seed(0)
    linear = torch.nn.Linear(train_x.shape[1], 10)
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(train_x), train_y) + 1e-3 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (linear(test_x).argmax(1) == test_y).float().mean().item()


@torch.no_grad()
def discriminator_features(run: Path, images: torch.Tensor) -> torch.Tensor:
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    D = DCGANDiscriminator(config_from_dict(DCGANConfig, state["model"]["config"]))
    D.load_state_dict({k.removeprefix("D."): v for k, v in state["discriminators"].items()})
    D.eval()
    return torch.cat([D.feature_vector(chunk) for chunk in images.split(256)])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--flags", default="", help="flags for both models (default: none, the digits recipe)")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--cgan-flags", default="", help="flags for cgan only")
    p.add_argument("--only", choices=("dcgan", "cgan"), help="train only this model")
    a = p.parse_args()
    judge, judge_accuracy = train_classifier()
    print(f"judge held-out accuracy {judge_accuracy:.2%}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, extra in (("dcgan", []), ("cgan", a.cgan_flags.split())):
            if a.only not in (None, model):
                continue
            out = Path(tmp) / model
            seconds = train(model, out, extra + a.flags.split())
            gan = BaseGANModel(out)
            flags = " ".join(extra + a.flags.split()) or "(none: the digits recipe)"
            steps = json.loads((out / "config.json").read_text())["train"]["steps"]
            row: dict[str, object] = {"model": model, "flags": flags, "steps": steps}
            row["train min"] = f"{seconds / 60:.1f}"
            if model == "cgan":
                requested = torch.arange(a.samples) % 10
                samples = torch.cat([gan.sample(1, seed=i, label=int(k)) for i, k in enumerate(requested)])
                predicted = predict(judge, samples)
                row["as requested"] = f"{(predicted == requested).float().mean().item():.1%}"
                figures = sample_diversity(out)[0]
                row["within-class diversity"] = f"{figures['diversity']:.2f} (lowest {figures['diversity_min']:.2f})"
            else:
                predicted = predict(judge, gan.sample(a.samples, seed=0))
                row["as requested"] = "n/a"
            entropy = histogram_entropy(predicted)
            row["entropy (nats)"] = f"{entropy:.3f} ({entropy / math.log(10):.1%} of ln 10)"
            row["judge acc"] = f"{judge_accuracy:.1%}"
            rows.append(row)
            print(row)
            if model == "dcgan" and a.only is None:
                (xt, yt), (xv, yv) = split()
                probe_d = linear_probe(discriminator_features(out, xt), yt, discriminator_features(out, xv), yv)
                probe_px = linear_probe(xt.flatten(1), yt, xv.flatten(1), yv)
    append_results("digits: DCGAN / cGAN at 32 px, judged by a CNN on real digits", rows)
    if a.only is not None:
        return
    append_results(
        "digits: linear probe on frozen DCGAN discriminator features (DCGAN paper section 5.1)",
        [
            {"features": "D's max-pooled 4x4 features of every stage", "held-out acc": f"{probe_d:.1%}"},
            {"features": "raw pixels (32x32)", "held-out acc": f"{probe_px:.1%}"},
        ],
        notes="D trained without labels on all 1,797 digits; probe trained on the 80% split, tested on 20%",
    )


if __name__ == "__main__":
    main()
