"""``gansuite export``: a run's generator as ONNX (any height and width), TorchScript or safetensors,
and the onnxruntime backend of ``translate``/``upscale``.

Exported graphs are the bare generator, in the range it was trained on: images in [-1, 1]
(N, C, H, W) for pix2pix, CycleGAN and super-resolution (out: N, C, scale H, scale W), latents z
(N, latent_dim) [+ labels (N,)] for the base GANs. ``model.json`` travels in the file's metadata.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from core_gan.checkpoint import atomic_write
from core_gan.errors import UserError
from gansuite.registry import MODELS
from gansuite.runs import TRANSLATION_MODELS, load_run, resolve_run, translation_generator


@dataclass(frozen=True)
class ExportTarget:
    """One generator of a run, in eval mode on the CPU, with example inputs of the shapes it takes."""

    meta: dict[str, Any]
    name: str
    module: nn.Module
    input_names: tuple[str, ...]

    @property
    def is_image_model(self) -> bool:
        return self.input_names == ("image",)

    def example(self, size: int = 0, batch: int = 2) -> tuple[torch.Tensor, ...]:
        """Inputs for ``batch`` samples; images are ``size`` pixels square (rounded up to the
        generator's multiple), or the smallest comfortable size when ``size`` is 0."""
        config = self.meta["config"]
        gen = torch.Generator().manual_seed(size + batch)
        if not self.is_image_model:
            z = torch.randn(batch, config["latent_dim"], generator=gen)
            return (z, torch.arange(batch) % config["num_classes"]) if len(self.input_names) == 2 else (z,)
        multiple = getattr(self.module, "multiple", 1)
        side = -(-max(size or 64, multiple) // multiple) * multiple
        channels = next(m.in_channels for m in self.module.modules() if isinstance(m, nn.Conv2d))
        return (torch.rand(batch, channels, side, side, generator=gen) * 2 - 1,)


def load_export_target(run: str | Path, direction: str | None = None) -> ExportTarget:
    """The generator ``translate``/``upscale``/``sample`` would run: CycleGAN's G_AB or G_BA by
    ``direction``, else the run's only generator."""
    meta, generators = load_run(run, tuple(MODELS))
    return export_target(meta, generators, direction, run)


def export_target(
    meta: dict[str, Any], generators: nn.ModuleDict, direction: str | None, run: str | Path
) -> ExportTarget:
    model = meta["model"]
    if model in TRANSLATION_MODELS:
        _, name = translation_generator(meta, direction, run)
    elif direction is not None:
        raise UserError(f"--direction: {run} is a {model} model, which has one generator")
    else:
        name = "G"
    data = MODELS[model].data
    inputs = {"unconditional": ("z",), "class-conditional": ("z", "label")}.get(data, ("image",))
    return ExportTarget(meta, name, generators[name].eval(), inputs)


def dynamic_shapes(target: ExportTarget) -> tuple[dict[int, Any], ...]:
    """Batch is free in every input; so are an image's height and width."""
    dim = torch.export.Dim
    if target.is_image_model:
        return ({0: dim("batch"), 2: dim.DYNAMIC, 3: dim.DYNAMIC},)
    batch = dim("batch")
    return tuple({0: batch} for _ in target.input_names)


def require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UserError(f"{what} needs the `{module}` package: pip install 'gansuite[export]'")


def export_onnx(target: ExportTarget, out: Path) -> None:
    """torch.export -> ONNX (the dynamo exporter), height and width left symbolic."""
    require("onnxscript", "--format onnx")
    with torch.no_grad():
        program = torch.onnx.export(
            target.module,
            target.example(),
            dynamo=True,
            input_names=list(target.input_names),
            output_names=["output"],
            dynamic_shapes=dynamic_shapes(target),
            verbose=False,
        )
    program.model.metadata_props["gansuite"] = json.dumps({**target.meta, "generator": target.name})
    atomic_write(out, lambda tmp: program.save(str(tmp)))


def export_torchscript(target: ExportTarget, out: Path) -> None:
    """A traced module for C++/mobile runtimes that still load TorchScript (which PyTorch deprecates in
    favour of torch.export: ONNX here). No generator has size-dependent Python branches, so any size runs."""
    extra = {"model.json": json.dumps({**target.meta, "generator": target.name})}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        traced = torch.jit.trace(target.module, target.example(), check_trace=False)
        atomic_write(out, lambda tmp: torch.jit.save(traced, str(tmp), _extra_files=extra))


def export_safetensors(target: ExportTarget, out: Path) -> None:
    """The generator's weights alone, ``model.json`` in the header's metadata."""
    tensors = {k: v.detach().contiguous() for k, v in target.module.state_dict().items()}
    metadata = {"gansuite": json.dumps({**target.meta, "generator": target.name})}
    atomic_write(out, lambda tmp: safetensors.torch.save_file(tensors, str(tmp), metadata=metadata))


EXPORTERS = {"onnx": export_onnx, "torchscript": export_torchscript, "safetensors": export_safetensors}


class OnnxGenerator:
    """An exported generator run by onnxruntime on the CPU, called like the torch module."""

    def __init__(self, path: Path, input_names: tuple[str, ...]) -> None:
        require("onnxruntime", "--backend onnxruntime")
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = input_names

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        arrays = (np.ascontiguousarray(t.detach().cpu().numpy()) for t in inputs)
        feed = dict(zip(self.input_names, arrays, strict=True))
        return torch.from_numpy(self.session.run(None, feed)[0])


def onnx_max_abs_diff(path: Path, target: ExportTarget, sizes: tuple[int, ...] = (64, 96)) -> float:
    """The largest |onnxruntime - PyTorch| over inputs of each size (images) or batch (latents)."""
    session = OnnxGenerator(path, target.input_names)
    worst = 0.0
    for size in sizes:
        inputs = target.example(size) if target.is_image_model else target.example(batch=size % 7 + 2)
        with torch.no_grad():
            expected = target.module(*inputs)
        worst = max(worst, float((session(*inputs) - expected).abs().max()))
    return worst


def onnx_runtime(run: str | Path, target: ExportTarget) -> OnnxGenerator:
    """``target`` (a generator of ``run``) on onnxruntime, exported once into torch hub's cache under
    a name keyed by the run's weights."""
    weights = resolve_run(run) / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    cache = Path(torch.hub.get_dir()) / "gansuite" / "onnx"
    path = cache / f"{digest}-{target.name}-torch{torch.__version__.split('+')[0]}.onnx"
    if not path.is_file():
        export_onnx(target, path)
    return OnnxGenerator(path, target.input_names)
