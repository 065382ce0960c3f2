"""``gansuite train MODEL``: flags -> typed configs -> objective + data -> the trainer."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from core_gan.data.digits import digits_dataset
from core_gan.data.images import ImageFolder
from core_gan.data.stream import steps_per_epoch
from core_gan.data.toy import TOYS, mode_coverage, toy_dataset
from core_gan.device import select_device
from core_gan.errors import UserError
from core_gan.metrics.digits import DigitFeatures, train_classifier
from core_gan.metrics.features import InceptionExtractor
from core_gan.metrics.generator import SampleDistance
from core_gan.models.dcgan import DCGANConfig, norm_for_loss
from core_gan.models.mlp import MLPGANConfig
from core_gan.objective import AdversarialConfig, BaseGANObjective
from core_gan.trainer import Evaluator, TrainConfig, Trainer
from gansuite.registry import build, get_spec


@dataclass(frozen=True)
class BaseData:
    """A base-GAN dataset and what the networks must know of it."""

    dataset: Dataset
    shape: tuple[int, ...]
    num_classes: int
    reference: torch.Tensor | None


def load_base_data(name: str, image_size: int, channels: int, strict: bool = False) -> BaseData:
    """``ring8``, ``grid25``, ``digits`` or an image folder (classes = first-level sub-folders)."""
    if name in TOYS:
        ds = toy_dataset(name)
        return BaseData(ds, (2,), len(TOYS[name][0]()), ds.tensors[0][:2000])
    if name == "digits":
        return BaseData(digits_dataset(image_size), (1, image_size, image_size), 10, None)
    folder = ImageFolder(name, image_size=image_size, channels=channels, strict=strict)
    return BaseData(folder, (channels, image_size, image_size), len(folder.classes), None)


# Per-model defaults, then the papers' optimiser settings per loss; explicit flags override both.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    # Measured on ring8 (benchmarks/bench_ring8.py): 8/8 modes needs the minibatch-std feature, and
    # high-quality samples need the EMA of G and a learning rate decayed over the second half.
    "gan": {"lr": 1e-3, "batch_size": 256, "steps": 20_000, "decay_fraction": 0.5, "ema": 0.999, "minibatch_std": True},
    "dcgan": {"lr": 2e-4, "batch_size": 64, "steps": 20_000},  # Radford et al. section 4
    "cgan": {"lr": 2e-4, "batch_size": 64, "steps": 20_000},
}
LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    "wgan": {"optimizer": "rmsprop", "lr": 5e-5, "d_steps": 5},  # Arjovsky et al., Algorithm 1
    # Gulrajani et al., Algorithm 1; the penalty is per sample, so no batch statistic (mbstd) in D.
    "wgan-gp": {"optimizer": "adam", "lr": 1e-4, "betas": (0.0, 0.9), "d_steps": 5, "minibatch_std": False},
}


def setting(args: argparse.Namespace, name: str, fallback: Any = None) -> Any:
    """An explicit flag, else the loss's paper default, else the model's default, else ``fallback``."""
    value = getattr(args, name, None)
    if value is not None:
        return value
    return LOSS_DEFAULTS.get(args.loss, {}).get(name, MODEL_DEFAULTS[args.model].get(name, fallback))


def network_config(args: argparse.Namespace, data: BaseData) -> MLPGANConfig | DCGANConfig:
    if args.model == "gan":
        return MLPGANConfig(
            data_shape=data.shape,
            latent_dim=args.latent_dim or 64,
            hidden=args.hidden,
            layers=args.layers,
            minibatch_std=setting(args, "minibatch_std", False),
            spectral_norm=args.spectral_norm,
        )
    if len(data.shape) != 3:
        raise UserError(f"--data {args.data}: {args.model} needs images; for 2-D points use `gansuite train gan`")
    if args.model == "cgan" and data.num_classes < 2:
        raise UserError(f"--data {args.data}: cgan needs classes (images in one sub-folder per class)")
    return DCGANConfig(
        image_size=data.shape[1],
        channels=data.shape[0],
        latent_dim=args.latent_dim or 100,
        ngf=args.ngf,
        ndf=args.ndf,
        d_norm=norm_for_loss(args.loss),
        spectral_norm=args.spectral_norm,
        minibatch_std=setting(args, "minibatch_std", False),
        num_classes=data.num_classes if args.model == "cgan" else 0,
        conditioning=args.conditioning,
        conditional_bn=args.conditional_bn,
    )


def train_config(args: argparse.Namespace, dataset: Dataset) -> TrainConfig:
    batch_size = setting(args, "batch_size")
    d_steps = setting(args, "d_steps", 1)
    if args.epochs is not None:
        steps = args.epochs * steps_per_epoch(dataset, batch_size) // d_steps
    else:
        steps = setting(args, "steps")
    lr = setting(args, "lr")
    return TrainConfig(
        steps=max(1, steps),
        batch_size=batch_size,
        lr_g=lr,
        lr_d=args.lr_d or lr,
        betas=setting(args, "betas", (0.5, 0.999)),
        optimizer=setting(args, "optimizer", "adam"),
        d_steps=d_steps,
        decay_steps=setting(args, "decay_steps", int(steps * setting(args, "decay_fraction", 0.0))),
        ema=setting(args, "ema", 0.0),
        device=args.device,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
        seed=args.seed,
        num_workers=args.num_workers,
        log_every=args.log_every,
        sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
    )


def make_evaluator(args: argparse.Namespace, data: BaseData) -> Evaluator | None:
    """What ``--eval-every`` reports: mode coverage on 2-D toys, Fréchet distance and KID in a digit
    classifier's feature space on ``digits``, FID and KID (Inception) on image folders."""
    if not args.eval_every:
        return None
    if args.data in TOYS:

        def coverage(sample: Callable[[int], torch.Tensor]) -> dict[str, float]:
            modes, quality = mode_coverage(sample(2000).cpu(), args.data)
            return {"modes": modes, "high_quality": quality}

        return coverage
    n = min(args.eval_samples, len(data.dataset))
    real = torch.stack([data.dataset[i][0] for i in range(n)])
    if args.data == "digits":
        classifier, accuracy = train_classifier()
        print(f"digit classifier for --eval-every: held-out accuracy {accuracy:.1%}")
        return SampleDistance(DigitFeatures(classifier), real, n)
    return SampleDistance(InceptionExtractor(args.fid_weights, select_device(args.device)), real, n)


def train_base_gan(args: argparse.Namespace) -> Path:
    """Train ``gan``, ``dcgan`` or ``cgan``; returns the run directory."""
    spec = get_spec(args.model)
    torch.manual_seed(args.seed)
    data = load_base_data(args.data, args.image_size, args.channels, args.strict)
    net = network_config(args, data)
    generators, discriminators = build(spec.name, net)
    adversarial = AdversarialConfig(
        loss=args.loss, clip=args.clip, r1_gamma=args.r1, unroll=args.unroll, unroll_lr=args.unroll_lr
    )
    objective = BaseGANObjective(generators["G"], discriminators["D"], adversarial)
    config = train_config(args, data.dataset)
    trainer = Trainer(
        objective,
        data.dataset,
        args.out,
        config,
        model_meta={"model": spec.name, "config": asdict(net)},
        settings={"objective": asdict(adversarial), "data": str(args.data)},
        preview_reference=data.reference,
        evaluator=make_evaluator(args, data),
    )
    return trainer.fit(resume=args.resume)
