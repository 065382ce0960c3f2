"""A small CNN trained on real digits: the judge of generated digits, and a feature extractor for
Fréchet / kernel distances on the digits data (where Inception features would be meaningless)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from core_gan.data.digits import load_digits_tensors
from core_gan.pixels import from_unit


def split(image_size: int = 32, seed: int = 0) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """80 / 20 train / held-out split of the 1,797 digits, fixed by ``seed``."""
    x, y = load_digits_tensors(image_size)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


class DigitCNN(nn.Module):
    """Digits (B, 1, 32, 32) in [-1, 1] -> class logits (B, 10); ``features`` gives the 64-d embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DigitFeatures:
    """A :class:`~core_gan.metrics.features.FeatureExtractor` on a trained DigitCNN.

    Takes images in [0, 1] like every extractor; features (B, 64), logits (B, 10).
    """

    name = "digits-cnn"
    dim = 64

    def __init__(self, model: DigitCNN) -> None:
        self.model = model.eval()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = from_unit(images[:, :1])
        if x.shape[-1] != 32:
            x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
        features = self.model.features(x)
        return features, self.model.head(features)


def _shift(x: torch.Tensor, max_px: int = 2) -> torch.Tensor:
    dx, dy = torch.randint(-max_px, max_px + 1, (2,)).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train_classifier(epochs: int = 20, seed: int = 0) -> tuple[DigitCNN, float]:
    """Returns the classifier (eval mode) and its held-out accuracy."""
    torch.manual_seed(seed)
    (xt, yt), (xv, yv) = split(seed=seed)
    model = DigitCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt)).split(64):
            loss = F.cross_entropy(model(_shift(xt[idx])), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(xv).argmax(1) == yv).float().mean().item()
    return model, accuracy


@torch.no_grad()
def predict(model: DigitCNN, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([model(chunk.float()).argmax(1) for chunk in images.split(500)])


def histogram_entropy(labels: torch.Tensor, num_classes: int = 10) -> float:
    """Entropy (nats) of the predicted-class histogram; ln 10 = 2.303 when all classes are equally common."""
    p = torch.bincount(labels, minlength=num_classes).float()
    p = p / p.sum()
    return float(-(p[p > 0] * p[p > 0].log()).sum())
