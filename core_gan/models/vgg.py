"""VGG19 feature maps for perceptual (content) losses, with torchvision's published ImageNet weights.

The weights are torchvision's own file, read from torch hub's cache (where ``torchvision.models.vgg19``
puts it), downloaded there when online, or given as a path. Without them there is no content loss:
random VGG features are not a perceptual loss, so nothing falls back to them silently.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core_gan.checkpoint import load_checkpoint
from core_gan.download import cached_download
from core_gan.errors import UserError
from core_gan.pixels import to_unit

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_SHA256 = "dcbb9e9d"  # sha256 prefix, as in the file name (torch hub convention)

# Index into vgg19().features just past the named feature map. "vggij" is the map after the j-th
# convolution (and its ReLU) before the i-th max-pool (Ledig et al. 2017, section 2.2.2); "-preact"
# stops before that ReLU (ESRGAN, Wang et al. 2018, section 3.3: denser, sharper features).
VGG_LAYERS = {"vgg22": 9, "vgg54": 36, "vgg54-preact": 35}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """Frozen VGG19 feature map ``layer`` of images (B, 3, H, W) in [-1, 1] (ImageNet-normalised inside)."""

    def __init__(self, layer: str = "vgg54") -> None:
        super().__init__()
        if layer not in VGG_LAYERS:
            raise ValueError(f"unknown VGG layer {layer!r}; expected one of {', '.join(VGG_LAYERS)}")
        from torchvision.models import vgg19  # a second of start-up: paid by the runs that build a VGG

        self.layer = layer
        self.features = vgg19(weights=None).features[: VGG_LAYERS[layer]]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        """Always in eval mode: a loss network does not train."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((to_unit(x) - self.mean) / self.std)


def load_vgg_features(layer: str = "vgg54", weights: str | Path | None = None) -> VGGFeatures:
    """VGG19 features with the ImageNet weights from ``weights``, torch hub's cache, or downloaded there."""
    path = cached_download(VGG19_URL, VGG19_FILE, VGG19_SHA256, weights, flag="--vgg-weights")
    state = load_checkpoint(path, "weights file")
    model = VGGFeatures(layer)
    wanted = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    own = model.features.state_dict()
    missing = own.keys() - wanted.keys()
    if missing or any(wanted[k].shape != v.shape for k, v in own.items()):
        raise UserError(f"{path}: not torchvision's VGG19 weights (missing or misshapen {sorted(missing)[:3]})")
    model.features.load_state_dict({k: wanted[k] for k in own})
    return model
