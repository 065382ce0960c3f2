"""The Inception-v3 of FID: TensorFlow's 2015-12-05 graph, with the published PyTorch port's weights.

It differs from torchvision's Inception-v3 in three ways that change the numbers: 1008 output
classes; the 3x3 average pools inside the Mixed 5/6/7 blocks ignore the zero padding (TF's
``count_include_pad=False``); the last block (Mixed_7c) pools with max instead of average. The state
dict keys are torchvision's, so the published file ``pt_inception-2015-12-05-6726825d.pth`` loads as is.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.models.inception import Inception3, InceptionA, InceptionC, InceptionE

from core_gan.checkpoint import first_line, load_checkpoint
from core_gan.download import cached_download
from core_gan.errors import UserError

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_SHA256 = "6726825d"  # sha256 prefix, as in the file name (torch hub convention)


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _tf_max_pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _MixedA(InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg_pool(x))]


class _MixedC(InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):  # fmt: skip
            b7d = layer(b7d)
        return [self.branch1x1(x), b7, b7d, self.branch_pool(_tf_avg_pool(x))]


class _MixedE(InceptionE):
    """InceptionE with TF's pool: average without padding (Mixed_7b) or max (Mixed_7c)."""

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.pool = _tf_max_pool if max_pool else _tf_avg_pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        return [self.branch1x1(x), b3, b3d, self.branch_pool(self.pool(x))]


class FIDInceptionV3(Inception3):
    """Images (B, 3, 299, 299) in [0, 1] -> (pool3 features (B, 2048), logits (B, 1008)).

    The logits are pool3 @ W without the bias, as in the original Inception Score code (which
    multiplied by the softmax weights only); FID uses the features.
    """

    def __init__(self) -> None:
        super().__init__(num_classes=1008, aux_logits=False, init_weights=False)
        self.Mixed_5b = _MixedA(192, pool_features=32)
        self.Mixed_5c = _MixedA(256, pool_features=64)
        self.Mixed_5d = _MixedA(288, pool_features=64)
        self.Mixed_6b = _MixedC(768, channels_7x7=128)
        self.Mixed_6c = _MixedC(768, channels_7x7=160)
        self.Mixed_6d = _MixedC(768, channels_7x7=160)
        self.Mixed_6e = _MixedC(768, channels_7x7=192)
        self.Mixed_7b = _MixedE(1280, max_pool=False)
        self.Mixed_7c = _MixedE(2048, max_pool=True)
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W) in [0, 1], got shape {tuple(x.shape)}")
        x = 2 * x - 1
        x = self.maxpool1(self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x))))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):  # fmt: skip
            x = block(x)
        features = torch.flatten(self.avgpool(x), 1)
        return features, features @ self.fc.weight.T


def load_fid_inception(weights: str | Path | None = None) -> FIDInceptionV3:
    """The FID network with the published weights: from ``weights``, the torch hub cache, or downloaded."""
    path = cached_download(FID_WEIGHTS_URL, FID_WEIGHTS_FILE, FID_WEIGHTS_SHA256, weights)
    state = load_checkpoint(path, "weights file")
    model = FIDInceptionV3()
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserError(f"{path}: not the FID Inception weights ({first_line(e)})") from e
    return model
