"""Load a finished run (``model.safetensors`` + ``model.json``) and generate from it.

What ``gansuite sample``/``interpolate``/``arithmetic`` and the apps call; networks stay ignorant of
files. Outputs are uint8 images (N, H, W, C) or float points (N, 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core_gan.checkpoint import first_line
from core_gan.cpu_plan import fastest_cpu_plan, probe_image
from core_gan.device import select_device
from core_gan.errors import UserError
from core_gan.hints import Hints, encode
from core_gan.pixels import from_uint8, from_unit, to_uint8, to_unit
from core_gan.speed import retain_freed_memory, swap_cpu_layers
from core_gan.tiling import run_tiled
from gansuite import community
from gansuite.registry import MODELS
from gansuite.runs import (
    BASE_MODELS,
    SR_MODELS,
    TRANSLATION_MODELS,
    domains,
    load_run,
    resolve_run,
    run_model,
    translation_generator,
)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latents (White 2016): follows the shell where N(0, I) lives."""
    omega = torch.arccos(torch.clamp((a / a.norm()) @ (b / b.norm()), -1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


class BaseGANModel:
    """A trained gan/dcgan/cgan generator (EMA weights when the run used them)."""

    def __init__(self, run: str | Path, device: str = "cpu") -> None:
        self.run = Path(run)
        meta, generators = load_run(self.run, BASE_MODELS)
        self.meta: dict[str, Any] = meta
        self.device = select_device(device)
        self.G = generators["G"].to(self.device).eval()
        config = meta["config"]
        self.latent_dim: int = config["latent_dim"]
        self.num_classes: int = config.get("num_classes", 0)

    def latents(self, seeds: list[int]) -> torch.Tensor:
        """One latent z ~ N(0, I) per seed (B, latent_dim): the same seed gives the same z anywhere."""
        return torch.stack([torch.randn(self.latent_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])

    def check_label(self, label: int) -> None:
        if not self.num_classes:
            raise UserError(f"--label: {self.run} is not class-conditional")
        if not 0 <= label < self.num_classes:
            raise UserError(f"--label {label}: expected 0..{self.num_classes - 1}")

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents (B, latent_dim) [+ labels (B,)] -> samples in G's range, on the CPU."""
        z = z.to(self.device)
        if self.num_classes:
            if labels is None:
                labels = torch.arange(z.shape[0]) % self.num_classes
            return self.G(z, labels.to(self.device)).cpu()
        return self.G(z).cpu()

    def sample(self, n: int, seed: int = 0, label: int | None = None) -> torch.Tensor:
        """n samples from consecutive seeds seed, seed+1, ...; all of class ``label`` when given."""
        if label is not None:
            self.check_label(label)
        z = self.latents(list(range(seed, seed + n)))
        labels = torch.full((n,), label) if label is not None else None
        return self.generate(z, labels)

    def class_grid(self, n: int, seed: int = 0) -> torch.Tensor:
        """n latents x every class, row-major: the style of a row is kept across the classes."""
        if not self.num_classes:
            raise UserError(f"--label all: {self.run} is not class-conditional")
        z = self.latents(list(range(seed, seed + n))).repeat_interleave(self.num_classes, dim=0)
        labels = torch.arange(self.num_classes).repeat(n)
        return self.generate(z, labels)

    def interpolate(
        self, seed_a: int, seed_b: int, steps: int, spherical: bool = False, label: int | None = None
    ) -> torch.Tensor:
        """G along z = (1 - t) z_a + t z_b (or slerp) for t in [0, 1], ``steps`` points. A conditional
        model keeps one class along the path: ``label``, else the one seed A draws."""
        if label is not None:
            self.check_label(label)
        elif self.num_classes:
            label = int(torch.randint(self.num_classes, (), generator=torch.Generator().manual_seed(seed_a)))
        za, zb = self.latents([seed_a, seed_b])
        ts = torch.linspace(0, 1, steps).tolist()
        z = torch.stack([slerp(za, zb, t) if spherical else (1 - t) * za + t * zb for t in ts])
        return self.generate(z, torch.full((steps,), label) if label is not None else None)

    def arithmetic(self, a: list[int], b: list[int], c: list[int], label: int | None = None) -> torch.Tensor:
        """G(mean z_A), G(mean z_B), G(mean z_C) and G(mean z_A - mean z_B + mean z_C) (DCGAN §6.3)."""
        means = [self.latents(seeds).mean(0) for seeds in (a, b, c)]
        z = torch.stack([*means, means[0] - means[1] + means[2]])
        return self.generate(z, torch.full((4,), label) if label is not None else None)


def on_backend(
    backend: str, run: str | Path, meta: dict[str, Any], name: str, G: torch.nn.Module, probe_side: int,
    background: bool = False,
) -> Any:  # fmt: skip
    """The image generator ``G`` itself (``torch``); on the CPU in eval mode with ``auto``, ``G`` by
    its fastest plan for this CPU (:mod:`core_gan.cpu_plan`, timed on a ``probe_side`` image); or its
    ONNX export run by onnxruntime on the CPU. On the CPU, freed memory is kept for the next call
    (:func:`core_gan.speed.retain_freed_memory`; the CLI sets it first thing, before any thread starts)."""
    on_cpu = next(G.parameters()).device.type == "cpu"
    if on_cpu:
        retain_freed_memory()
    if backend == "auto":
        if not on_cpu or G.training:
            return G
        channels = next(m.in_channels for m in G.modules() if isinstance(m, torch.nn.Conv2d))
        return fastest_cpu_plan(G, probe_image(channels, probe_side), background)
    if backend == "torch":
        return G
    from gansuite.export import ExportTarget, onnx_runtime

    return onnx_runtime(run, ExportTarget(meta, name, G.eval(), ("image",)))


class Translator:
    """A trained pix2pix or CycleGAN generator for any image size: ``Translator(run)(image)``, uint8
    (H, W, 3) in and out. The image is reflect-padded to the generator's multiple (2^depth for a
    U-Net, 4 for a ResNet) and the output cropped back. Deterministic (eval mode) unless in the paper's
    test mode: pix2pix keeps dropout and batch statistics at test time (section 3.2). ``paper_test_mode``
    None: the run's own choice (``"test_mode": "paper"`` in model.json, as the reference zoo's pix2pix
    models were evaluated), else eval mode. ``direction`` picks CycleGAN's generator; for pix2pix it
    must be the direction it was trained in. A pix2pix run trained with colour hints takes them as
    an RGBA image of the input's size (see :class:`core_gan.hints.Hints`), and runs with none without."""

    def __init__(
        self,
        run: str | Path,
        device: str = "cpu",
        paper_test_mode: bool | None = None,
        direction: str | None = None,
        backend: str = "auto",
        plan_in_background: bool = False,
    ) -> None:
        self.run = resolve_run(run)
        meta, generators = load_run(self.run, TRANSLATION_MODELS)
        self.direction, name = translation_generator(meta, direction, self.run)
        self.domains = domains(self.run, meta)
        self.multiple: int = getattr(generators[name], "multiple", 1)
        self.hints: bool = bool(meta["config"].get("hints", False))
        self.paired: bool = MODELS[meta["model"]].data == "paired"
        """Trained on A|B pairs (pix2pix), so an input twice as wide as tall may be a pair given whole."""
        if paper_test_mode is None:
            paper_test_mode = meta.get("test_mode") == "paper" and backend != "onnxruntime"
        self.paper_test_mode = paper_test_mode
        if backend == "onnxruntime" and paper_test_mode:
            raise UserError("--paper-test-mode needs --backend torch or auto (the exported graph is in eval mode)")
        self.device = select_device(device) if backend != "onnxruntime" else torch.device("cpu")
        G = generators[name].to(self.device).train(paper_test_mode)
        if backend != "onnxruntime" and self.device.type == "cpu":
            swap_cpu_layers(G)
        self.G = on_backend(backend, self.run, meta, name, G, max(self.multiple, 128), plan_in_background)

    def network_input(self, image: np.ndarray, hints: np.ndarray | None) -> torch.Tensor:
        """The image in [-1, 1] (1, 3, H, W), followed by its hint channels for a hinted model."""
        if hints is not None and not self.hints:
            raise UserError(f"{self.run} was trained without colour hints; translate without --hints")
        if not self.hints:
            return from_uint8(image)[None]
        h, w = image.shape[:2]
        if hints is not None and (hints.ndim != 3 or hints.shape[2] != 4 or hints.dtype != np.uint8):
            raise UserError(f"expected hints as a uint8 RGBA image (H, W, 4), got {hints.dtype} {hints.shape}")
        if hints is not None and hints.shape[:2] != (h, w):
            raise UserError(f"hints of {hints.shape[1]}x{hints.shape[0]} for an image of {w}x{h}")
        marks = Hints.from_rgba(hints) if hints is not None else Hints.none(h, w)
        return torch.from_numpy(encode(from_uint8(image).permute(1, 2, 0).numpy(), marks))[None]

    @torch.no_grad()
    def __call__(self, image: np.ndarray, hints: np.ndarray | None = None) -> np.ndarray:
        """uint8 RGB (H, W, 3) -> uint8 RGB (H, W, 3); ``hints``: RGBA (H, W, 4) for a hinted model."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise UserError(f"expected a uint8 RGB image (H, W, 3), got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        x = self.network_input(image, hints)
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        out = self.G(x.to(self.device))[:, :, :h, :w]
        return to_uint8(out)[0]


class Upscaler:
    """A super-resolution run (or ``"bicubic"``, or a community model file spandrel recognises) for
    images of any size: ``Upscaler(run)(image)``.

    uint8 images (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA in, the same channels ``scale`` times
    larger out. RGBA: colour is premultiplied by alpha for the network and divided back after; alpha
    itself is upscaled bicubically. Tiled (see ``core_gan.tiling``); on CUDA fp16 (community models:
    fp16 or bf16 where their architecture supports it), fp32 elsewhere. The call keeps no state, so
    threads may share one ``Upscaler``.
    """

    def __init__(
        self, run: str | Path, device: str = "cpu", scale: int | None = None, backend: str = "auto",
        plan_in_background: bool = False,
    ) -> None:  # fmt: skip
        self.run = str(run)
        self.device = select_device(device) if backend != "onnxruntime" else torch.device("cpu")
        self.dtype = torch.float16 if self.device.type == "cuda" else torch.float32
        self.G: Any = None
        if self.run == "bicubic":
            self.scale = scale or 4
            return
        if community.is_model_file(run) or run_model(run) == community.SPANDREL:
            if backend == "onnxruntime":
                raise UserError(f"--backend onnxruntime: {run} is a spandrel model; use --backend torch or auto")
            descriptor = community.load(run)
            self.scale, self.dtype = descriptor.scale, community.fastest_dtype(descriptor, self.device)
            self.G = descriptor.to(self.device, self.dtype)  # [0, 1] -> [0, 1], padded as it needs
        else:
            meta, generators = load_run(Path(run), SR_MODELS)
            self.scale = meta["config"]["scale"]
            G = generators["G"].to(self.device, self.dtype).eval()
            G = on_backend(backend, run, meta, "G", G, 128, plan_in_background)
            self.G = lambda x: to_unit(G(from_unit(x)))
        if scale is not None and scale != self.scale:
            raise UserError(f"--scale {scale}: {run} is a x{self.scale} model")

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, h, w) in [0, 1] -> (B, 3, scale h, scale w) in [0, 1] (unclamped)."""
        if self.G is None:
            return self.bicubic(x)
        return self.G(x.to(self.device, self.dtype)).float()

    def bicubic(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)

    @torch.no_grad()
    def __call__(
        self, image: np.ndarray, tile: int = 512, overlap: int = 32, progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise UserError(f"expected a uint8 image (H, W), (H, W, 3) or (H, W, 4), got {image.dtype} {image.shape}")
        x = torch.from_numpy(np.array(image)).float() / 255
        x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)
        try:
            if x.shape[0] == 1:
                rgb = run_tiled(self.network, x.expand(3, -1, -1), self.scale, tile, overlap, progress, np.float32)
                return np.rint(rgb.mean(axis=2) * 255).astype(np.uint8)
            if x.shape[0] == 3:
                return run_tiled(self.network, x, self.scale, tile, overlap, progress)
            alpha = x[3:]
            colour = run_tiled(self.network, x[:3] * alpha, self.scale, tile, overlap, progress, np.float32)
            alpha_up = run_tiled(self.bicubic, alpha, self.scale, tile, overlap, dtype=np.float32)
            straight = np.where(alpha_up > 1 / 510, colour / np.maximum(alpha_up, 1 / 510), 0.0)
            rgba = np.concatenate([straight.clip(0, 1), alpha_up], axis=2)
            return np.rint(rgba * 255).astype(np.uint8)
        except RuntimeError as e:
            raise UserError(f"upscaling with {self.run} failed: {first_line(e)}") from e
