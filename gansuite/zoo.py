"""The reference pix2pix/CycleGAN model zoo (junyanz/pytorch-CycleGAN-and-pix2pix, BSD): its published
``latest_net_G.pth`` files -> one-direction translator runs.

The files are the reference code's state dicts as they are. Its U-Net nests one skip block per level
(``model.model.1.model.3.…``); its ResNet is one Sequential whose residual blocks hold a ``conv_block``
(``model.10.conv_block.1.…``). Both have the same layers as ``core_gan.models.translators``, so a key
maps to ours by position. Files saved by PyTorch < 0.4 carry InstanceNorm buffers the network does
not have: they are skipped, as the reference code's ``__patch_instance_norm_state_dict`` does. No
checksum is published: the digest of the first download is recorded beside the cached file and
checked on every later use.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from core_gan.checkpoint import atomic_write, load_checkpoint, save_inference
from core_gan.download import cache_dir, download, sha256_of
from core_gan.errors import UserError
from core_gan.models.translators import UNetGenerator
from gansuite.registry import MODELS
from translation.cyclegan import CycleGANConfig, build_generators
from translation.pix2pix import Pix2PixConfig, build_generator

PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{file}.pth"
CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{file}.pth"
# The reference test mode of pix2pix: batch statistics and dropout on (its test.py without --eval).
PIX2PIX_TEST_MODE = "paper"

LICENCE = """\
{name}: weights published by the pytorch-CycleGAN-and-pix2pix project ({url}), converted by gansuite.

Copyright (c) 2017, Jun-Yan Zhu and Taesung Park
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

* Redistributions of source code must retain the above copyright notice, this list of conditions
  and the following disclaimer.
* Redistributions in binary form must reproduce the above copyright notice, this list of conditions
  and the following disclaimer in the documentation and/or other materials provided with the
  distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS
BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
(INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR
PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF
THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""


@dataclass(frozen=True)
class ZooModel:
    """One published generator: ``pix2pix`` (``unet_256``, batch norm, dropout) or ``cyclegan``
    (``resnet_9blocks``, instance norm, no dropout), translating ``domains[0]`` -> ``domains[1]``."""

    method: str
    file: str
    domains: tuple[str, str]

    @property
    def name(self) -> str:
        return f"{self.method}-{self.file}"

    @property
    def url(self) -> str:
        return (PIX2PIX_URL if self.method == "pix2pix" else CYCLEGAN_URL).format(file=self.file)


ZOO = {
    m.name: m
    for m in (
        ZooModel("pix2pix", "facades_label2photo", ("facade labels", "facade photo")),
        ZooModel("pix2pix", "sat2map", ("satellite photo", "map")),
        ZooModel("pix2pix", "map2sat", ("map", "satellite photo")),
        ZooModel("pix2pix", "edges2shoes", ("edges", "shoe")),
        ZooModel("pix2pix", "edges2handbags", ("edges", "handbag")),
        ZooModel("pix2pix", "day2night", ("day", "night")),
        ZooModel("cyclegan", "horse2zebra", ("horse", "zebra")),
        ZooModel("cyclegan", "zebra2horse", ("zebra", "horse")),
        ZooModel("cyclegan", "apple2orange", ("apple", "orange")),
        ZooModel("cyclegan", "orange2apple", ("orange", "apple")),
        ZooModel("cyclegan", "summer2winter_yosemite", ("summer", "winter")),
        ZooModel("cyclegan", "winter2summer_yosemite", ("winter", "summer")),
        ZooModel("cyclegan", "monet2photo", ("Monet painting", "photo")),
        ZooModel("cyclegan", "style_monet", ("photo", "Monet painting")),
        ZooModel("cyclegan", "style_cezanne", ("photo", "Cézanne painting")),
        ZooModel("cyclegan", "style_ukiyoe", ("photo", "ukiyo-e print")),
        ZooModel("cyclegan", "style_vangogh", ("photo", "Van Gogh painting")),
        ZooModel("cyclegan", "sat2map", ("satellite photo", "map")),
        ZooModel("cyclegan", "map2sat", ("map", "satellite photo")),
        ZooModel("cyclegan", "cityscapes_photo2label", ("street photo", "label map")),
        ZooModel("cyclegan", "cityscapes_label2photo", ("label map", "street photo")),
        ZooModel("cyclegan", "facades_photo2label", ("facade photo", "facade labels")),
        ZooModel("cyclegan", "facades_label2photo", ("facade labels", "facade photo")),
        ZooModel("cyclegan", "iphone2dslr_flower", ("iPhone photo", "DSLR photo")),
    )
}


def network_config(method: str) -> Pix2PixConfig | CycleGANConfig:
    """The reference zoo's test options: pix2pix ``--netG unet_256 --norm batch`` (dropout, as trained),
    CycleGAN ``--netG resnet_9blocks --norm instance --no_dropout``."""
    if method == "pix2pix":
        return Pix2PixConfig(netG="unet_256", norm="batch", dropout=True)
    return CycleGANConfig(netG="resnet_9blocks", norm="instance", dropout=False)


def generator(method: str) -> nn.Module:
    config = network_config(method)
    return build_generator(config) if isinstance(config, Pix2PixConfig) else build_generators(config)["G_AB"]


def unet_key(key: str, depth: int) -> str:
    """A reference U-Net key -> ours. Level 0 (outermost) holds [down conv, inner block, ReLU, up conv,
    tanh]; levels 1..depth-2 [LeakyReLU, down conv, norm, inner block, ReLU, up conv, norm, (dropout)];
    the innermost [LeakyReLU, down conv, ReLU, up conv, norm]. The inner block sits at index 1, then 3."""
    rest, level = key.removeprefix("model."), 0
    while True:
        match = re.fullmatch(r"model\.(\d+)\.(.+)", rest)
        if match is None:
            raise KeyError(key)
        index, rest = int(match[1]), match[2]
        inner_at = 1 if level == 0 else 3
        if index == inner_at and level < depth - 1:
            level += 1
            continue
        if level == 0:
            ours = {0: "down.0.0", 3: "up.0.1"}
        elif level == depth - 1:
            ours = {1: f"down.{level}.1", 3: f"up.{level}.1", 4: f"up.{level}.2"}
        else:
            ours = {1: f"down.{level}.1", 2: f"down.{level}.2", 5: f"up.{level}.1", 6: f"up.{level}.2"}
        if index not in ours:
            raise KeyError(key)
        return f"{ours[index]}.{rest}"


def resnet_key(key: str) -> str:
    """A reference ResNet key -> ours: the same Sequential, ``conv_block`` named ``body``."""
    if not key.startswith("model."):
        raise KeyError(key)
    return "net." + key.removeprefix("model.").replace(".conv_block.", ".body.")


def old_instance_norm_buffer(key: str, net: nn.Module) -> bool:
    """Whether ``key`` (ours) is a running statistic or batch counter that PyTorch < 0.4 saved for an
    InstanceNorm layer, which has none."""
    module = net.get_submodule(key.rsplit(".", 1)[0]) if "." in key else net
    return isinstance(module, nn.InstanceNorm2d) and not module.track_running_stats


def convert(state: dict, method: str, source: str) -> nn.Module:
    """The generator of ``method`` with the reference state dict ``state`` loaded; the first key or
    shape that does not fit is refused, named as the file names it."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{source}: not a state dict of tensors (a reference latest_net_G.pth is one)")
    net = generator(method)
    to_ours = (lambda k: unet_key(k, net.depth)) if isinstance(net, UNetGenerator) else resnet_key
    expected, mapped = net.state_dict(), {}
    for key, value in state.items():
        try:
            ours = to_ours(key)
            if old_instance_norm_buffer(ours, net):
                continue
        except (KeyError, AttributeError):
            ours = None
        if ours not in expected:
            raise UserError(f"{source}: {key} is not in the reference {method} generator's layout")
        if value.shape != expected[ours].shape:
            raise UserError(f"{source}: {key} has shape {tuple(value.shape)}, the reference {method} "
                            f"generator's is {tuple(expected[ours].shape)}")  # fmt: skip
        mapped[ours] = value
    # Files from before PyTorch 0.4.1 have no BatchNorm batch counter; it only matters when training.
    missing = [k for k in expected if k not in mapped and not k.endswith("num_batches_tracked")]
    if missing:
        raise UserError(f"{source}: {len(missing)} weights of the reference {method} generator are missing "
                        f"(the first: ours {missing[0]})")  # fmt: skip
    net.load_state_dict(mapped, strict=False)
    return net


def digest_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def fetch(entry: ZooModel) -> Path:
    """The cached file (checked against the digest recorded at its first download), else a download."""
    cached = cache_dir() / "gansuite-zoo" / f"{entry.name}.pth"
    record = digest_file(cached)
    recorded = record.read_text().split()[0] if record.is_file() else ""
    if cached.is_file() and recorded:
        actual = sha256_of(cached)
        if actual != recorded:
            raise UserError(f"{cached}: sha256 {actual} differs from {recorded}, recorded at its first "
                            "download; delete both files to download it again")  # fmt: skip
        print(f"{cached.name}: sha256 {actual} (as recorded)")
        return cached
    download(entry.url, cached, recorded, flag="--from")
    digest = sha256_of(cached)
    atomic_write(record, lambda tmp: tmp.write_text(f"{digest}  {entry.url}\n"))
    print(f"{cached.name}: recorded sha256 {digest} in {record}")
    return cached


def import_zoo(name: str, out: Path, source: Path | None = None) -> Path:
    """``out`` with model.safetensors, model.json (a one-direction translator) and LICENSE."""
    entry = ZOO[name]
    if source is not None and not source.is_file():
        raise UserError(f"--from {source}: no such file")
    path = source or fetch(entry)
    net = convert(load_checkpoint(path, "PyTorch weights file"), entry.method, str(path))
    config = network_config(entry.method)
    meta = {"model": entry.method, "config": asdict(config), "domains": list(entry.domains),
            "source": f"{path.name} ({entry.url})"}  # fmt: skip
    exports = MODELS[entry.method].exports
    tensors = nn.ModuleDict({exports["AtoB"]: net}).state_dict()
    if len(exports) == 1:  # pix2pix: G, run the direction it was trained in
        meta |= {"direction": "AtoB", "test_mode": PIX2PIX_TEST_MODE}
    else:  # CycleGAN: the zoo publishes G_AB alone
        meta |= {"generators": [exports["AtoB"]]}
    save_inference(out, tensors, meta)
    atomic_write(out / "LICENSE", lambda tmp: tmp.write_text(LICENCE.format(name=name, url=entry.url)))
    return out
