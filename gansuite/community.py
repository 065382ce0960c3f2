"""Community super-resolution models (OpenModelDB, chaiNNer, ComfyUI: ESRGAN variants, SwinIR, HAT,
SPAN, DAT, ...) through spandrel, which detects the architecture from a state dict's keys.

Files are read by the suite's own safe loaders (``weights_only`` pickles, safetensors), never by
spandrel's. Scale, channels and half/bf16 support come from spandrel's descriptor, which also pads an
input to the architecture's size requirements (multiple-of, square, minimum) and crops the output
back. Our own SRResNet/RRDBNet runs keep their code; this is for what we do not implement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from core_gan.checkpoint import first_line, load_checkpoint, load_inference, save_inference
from core_gan.errors import UserError
from gansuite.runs import resolve_run

MODEL_FILE_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
SPANDREL = "spandrel"
"""The ``model`` of a run imported by ``gansuite weights import sr``."""


def is_model_file(run: str | Path) -> bool:
    return Path(run).suffix.lower() in MODEL_FILE_SUFFIXES


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A model file's tensors, unwrapped from the usual containers (``params_ema``, ``state_dict``,
    ``module.`` prefixes) the way spandrel does."""
    import spandrel

    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    if path.suffix.lower() == ".safetensors":
        try:
            state: Any = safetensors.torch.load_file(path)
        except Exception as e:
            raise UserError(f"{path}: not a readable safetensors file ({first_line(e)})") from e
    else:
        state = load_checkpoint(path, "model file")
    if not isinstance(state, dict):
        raise UserError(f"{path}: holds a {type(state).__name__}, not a state dict")
    state = spandrel.canonicalize_state_dict(state)
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: not a state dict of tensors")
    return state


def describe(state: dict[str, torch.Tensor], source: str) -> Any:
    """spandrel's ImageModelDescriptor for an RGB -> RGB super-resolution or restoration model."""
    import spandrel

    try:
        model = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError as e:
        raise UserError(f"{source}: not an architecture spandrel recognises") from e
    except Exception as e:  # a recognised architecture whose weights do not fit it
        raise UserError(f"{source}: spandrel could not load it ({first_line(e)})") from e
    if not isinstance(model, spandrel.ImageModelDescriptor) or model.purpose not in ("SR", "Restoration"):
        raise UserError(f"{source}: a {model.architecture.name} {model.purpose} model, not super-resolution")
    if (model.input_channels, model.output_channels) != (3, 3):
        raise UserError(f"{source}: a {model.input_channels}-to-{model.output_channels}-channel model; "
                        "gansuite upscales RGB")  # fmt: skip
    return model.eval()


def load(run: str | Path) -> Any:
    """The descriptor of a model file, or of a run written by :func:`import_sr`."""
    path = Path(run)
    if is_model_file(path):
        return describe(read_state_dict(path), str(path))
    run_dir = resolve_run(run)
    _, tensors = load_inference(run_dir)
    return describe(tensors, str(run_dir / "model.safetensors"))


def fastest_dtype(model: Any, device: torch.device) -> torch.dtype:
    """fp16 on CUDA where the architecture supports it, else bf16 where it does, else fp32."""
    if device.type != "cuda":
        return torch.float32
    return torch.float16 if model.supports_half else torch.bfloat16 if model.supports_bfloat16 else torch.float32


def summary(model: Any) -> dict[str, Any]:
    """What model.json records of a descriptor (``config.scale`` as for the suite's own SR runs)."""
    return {"model": SPANDREL, "architecture": model.architecture.name, "tags": list(model.tags),
            "config": {"scale": model.scale}, "supports_half": model.supports_half,
            "supports_bfloat16": model.supports_bfloat16}  # fmt: skip


def import_sr(source: Path, out: Path) -> Path:
    """``out`` with the file's weights (model.safetensors, as spandrel names them) and model.json."""
    state = read_state_dict(source)
    model = describe(state, str(source))
    save_inference(out, {k: v.clone() for k, v in state.items()}, summary(model) | {"source": source.name})
    return out
