"""``gansuite train MODEL``: flags -> typed configs -> objective + data -> the trainer."""

from __future__ import annotations

import argparse
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from core_gan.config import config_from_dict
from core_gan.data.digits import digits_dataset
from core_gan.data.folders import PairedFolder, SRFolder, UnpairedFolder
from core_gan.data.images import ImageFolder
from core_gan.data.stream import steps_per_epoch
from core_gan.data.toy import TOYS, mode_coverage, toy_dataset
from core_gan.data.transforms import PairedTransformConfig
from core_gan.device import select_device
from core_gan.distributed import current_world
from core_gan.errors import UserError
from core_gan.metrics.digits import DigitFeatures, train_classifier
from core_gan.metrics.features import InceptionExtractor
from core_gan.metrics.generator import SampleDistance
from core_gan.metrics.image_quality import validation_psnr_ssim
from core_gan.models.dcgan import IMAGE_SIZES as DCGAN_SIZES
from core_gan.models.dcgan import DCGANConfig, norm_for_loss
from core_gan.models.mlp import MLPGANConfig
from core_gan.models.vgg import load_vgg_features
from core_gan.objective import AdversarialConfig, BaseGANObjective
from core_gan.trainer import Evaluator, TrainConfig, Trainer
from gansuite.registry import build, get_spec
from translation.cyclegan import CycleGANConfig, CycleGANLoss, CycleGANObjective
from translation.esrgan import RRDBNetConfig
from translation.pix2pix import Pix2PixConfig, Pix2PixLoss, Pix2PixObjective
from translation.srgan import ContentLoss, SRLoss, SRObjective, SRResNetConfig


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
    if data.shape[1] not in DCGAN_SIZES:
        raise UserError(f"--image-size {data.shape[1]}: {args.model} generates {', '.join(map(str, DCGAN_SIZES))} px")
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
        steps = args.epochs * steps_per_epoch(dataset, batch_size, current_world().size) // d_steps
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
        eval_every=args.eval_every,
        **runtime_settings(args),
    )


def runtime_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The flags every model shares: where and how fast to compute, and how often to write."""
    return {
        "device": args.device, "precision": args.precision, "channels_last": args.channels_last,
        "compile": args.compile, "sync_bn": args.sync_bn, "seed": args.seed, "num_workers": args.num_workers,
        "log_every": args.log_every, "sample_every": args.sample_every, "checkpoint_every": args.checkpoint_every,
        "checkpoint_keep": args.checkpoint_keep, "anomaly_retries": args.anomaly_retries,
        "deterministic": args.deterministic,
    }  # fmt: skip


def make_evaluator(args: argparse.Namespace, data: BaseData, objective: BaseGANObjective) -> Evaluator | None:
    """What ``--eval-every`` reports: mode coverage on 2-D toys, Fréchet distance and KID in a digit
    classifier's feature space on ``digits``, FID and KID (Inception) on image folders."""
    if not args.eval_every:
        return None
    if args.data in TOYS:

        def coverage(generators: nn.ModuleDict) -> dict[str, float]:
            modes, quality = mode_coverage(objective.preview(generators, 2000, args.seed + 1).cpu(), args.data)
            return {"modes": modes, "high_quality": quality}

        return coverage
    n = min(args.eval_samples, len(data.dataset))
    real = torch.stack([data.dataset[i][0] for i in range(n)])
    if args.data == "digits":
        classifier, accuracy = train_classifier()
        print(f"digit classifier for --eval-every: held-out accuracy {accuracy:.1%}")
        distance = SampleDistance(DigitFeatures(classifier), real, n)
    else:
        distance = SampleDistance(InceptionExtractor(args.fid_weights, select_device(args.device)), real, n)
    return lambda generators: distance(lambda k: objective.preview(generators, k, args.seed + 1))


def train_base_gan(args: argparse.Namespace) -> Path:
    """Train ``gan``, ``dcgan`` or ``cgan``; returns the run directory."""
    spec = get_spec(args.model)
    torch.manual_seed(args.seed)
    data = load_base_data(args.data, args.image_size or 32, args.channels, args.strict)
    net = network_config(args, data)
    generators, discriminators = build(spec.name, net)
    adversarial = AdversarialConfig(
        loss=args.loss, clip=args.clip, r1_gamma=args.r1, unroll=args.unroll, unroll_lr=args.unroll_lr
    )
    if current_world().size > 1 and (args.unroll or getattr(net, "conditioning", "") == "acgan"):
        flag = "--unroll" if args.unroll else "--conditioning acgan"
        raise UserError(f"{flag} is single-process only (it calls D outside DistributedDataParallel)")
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
        evaluator=make_evaluator(args, data, objective),
    )
    return trainer.fit(resume=args.resume)


def _crop_size(args: argparse.Namespace, netG: str) -> int:
    """``--image-size``, else the U-Net's own size (unet_256 -> 256), else the papers' 256."""
    return args.image_size or (int(netG.removeprefix("unet_")) if netG.startswith("unet_") else 256)


def _paired_transform(args: argparse.Namespace, image_size: int) -> PairedTransformConfig:
    load = args.load_size or round(image_size * 286 / 256)
    return PairedTransformConfig(args.preprocess, load, image_size, not args.no_flip)


def _validation(args: argparse.Namespace, transform: PairedTransformConfig) -> PairedFolder | None:
    root = Path(args.data)
    if not ((root / "val").is_dir() or (root / "A" / "val").is_dir()):
        return None
    return PairedFolder(root, "val", args.direction, transform, train=False, strict=args.strict)


def validation(pairs: Dataset, n: int, crop_border: int = 0, y_channel: bool = False) -> Evaluator:
    """L1, PSNR and SSIM (8-bit protocol) of G on the first ``n`` (input, target) pairs, one at a time
    (whole validation images may differ in size): RGB for pix2pix, Y with the scale cropped for SR."""
    batches = [tuple(t[None] for t in pairs[i]) for i in range(min(n, len(pairs)))]

    def evaluate(generators: nn.ModuleDict) -> dict[str, float]:
        G = generators["G"]
        device = next(G.parameters()).device
        l1, psnr_sum, ssim_sum = 0.0, 0.0, 0.0
        for x, y in batches:
            out = G(x.to(device)).float().cpu()
            l1 += (out - y).abs().mean().item()
            p, s = validation_psnr_ssim(out, y, crop_border, y_channel)
            psnr_sum, ssim_sum = psnr_sum + p, ssim_sum + s
        k = len(batches)
        return {"l1": l1 / k, "psnr": psnr_sum / k, "ssim": ssim_sum / k}

    return evaluate


def translation_train_config(
    args: argparse.Namespace, data: Dataset, eval_every: int = 0, best_metric: str = ""
) -> TrainConfig:
    """pix2pix's and CycleGAN's schedule: batch 1, Adam 2e-4 (0.5, 0.999), ``--epochs`` (100) at a
    constant rate then ``--epochs-decay`` (100) decaying linearly to zero."""
    batch_size = args.batch_size or 1
    per_epoch = steps_per_epoch(data, batch_size, current_world().size)
    epochs, decay_epochs = args.epochs or 100, args.epochs_decay
    steps = args.steps or (epochs + decay_epochs) * per_epoch
    decay = (
        args.decay_steps
        if args.decay_steps is not None
        else (decay_epochs * per_epoch if not args.steps else steps // 2)
    )
    return TrainConfig(
        steps=steps, batch_size=batch_size, lr_g=args.lr or 2e-4, lr_d=args.lr_d or args.lr or 2e-4,
        lr_policy=args.lr_policy, decay_steps=decay, ema=args.ema or 0.0, eval_every=eval_every,
        best_metric=best_metric, **runtime_settings(args),
    )  # fmt: skip


def train_pix2pix(args: argparse.Namespace) -> Path:
    """pix2pix with the paper's defaults: batch 1, Adam 2e-4 (0.5, 0.999), 100 + 100 epochs."""
    torch.manual_seed(args.seed)
    netG = args.netG or "unet_256"
    image_size = _crop_size(args, netG)
    transform = _paired_transform(args, image_size)
    data = PairedFolder(args.data, "train", args.direction, transform, seed=args.seed, strict=args.strict)
    val = _validation(args, transform)
    preview = data if val is None else val
    preview_pairs = tuple(torch.stack(t) for t in zip(*(preview[i] for i in range(min(4, len(preview)))), strict=True))
    net = Pix2PixConfig(
        netG=netG, netD=args.netD, n_layers_d=args.n_layers_d, input_nc=preview_pairs[0].shape[1],
        output_nc=preview_pairs[1].shape[1], ngf=args.ngf, ndf=args.ndf, norm=args.norm or "batch",
        dropout=not args.no_dropout,
    )  # fmt: skip
    try:
        generators, discriminators = build("pix2pix", net)
    except ValueError as e:
        raise UserError(f"--netG {netG}: {e}") from e
    loss = Pix2PixLoss(gan_mode=args.gan_mode or "vanilla", lambda_l1=args.lambda_l1, lambda_gan=args.lambda_gan)
    objective = Pix2PixObjective(generators["G"], discriminators["D"], loss, preview_pairs)
    eval_every = args.eval_every or (args.checkpoint_every if val is not None else 0)
    config = translation_train_config(args, data, eval_every, best_metric="psnr" if val is not None else "")
    trainer = Trainer(
        objective, data, args.out, config,
        model_meta={"model": "pix2pix", "config": asdict(net), "direction": args.direction},
        settings={"objective": asdict(loss), "data": str(args.data), "transform": asdict(transform)},
        evaluator=validation(val, args.eval_samples) if val is not None else None,
    )  # fmt: skip
    return trainer.fit(resume=args.resume)


def train_cyclegan(args: argparse.Namespace) -> Path:
    """CycleGAN with the paper's defaults: resnet_9blocks, instance norm, LSGAN, pool 50, batch 1."""
    torch.manual_seed(args.seed)
    netG = args.netG or "resnet_9blocks"
    image_size = _crop_size(args, netG)
    transform = _paired_transform(args, image_size)
    data = UnpairedFolder(args.data, "train", transform, serial=args.serial, seed=args.seed, strict=args.strict)
    has_test = (Path(args.data) / "testA").is_dir() and (Path(args.data) / "testB").is_dir()
    preview = UnpairedFolder(args.data, "test", transform, train=False) if has_test else data
    items = [preview[i] for i in range(min(2, len(preview)))]
    preview_pairs = (torch.stack([a for a, _ in items]), torch.stack([b for _, b in items]))
    net = CycleGANConfig(
        netG=netG, a_nc=preview_pairs[0].shape[1], b_nc=preview_pairs[1].shape[1], ngf=args.ngf, ndf=args.ndf,
        n_layers_d=args.n_layers_d, norm=args.norm or "instance", dropout=False,
    )  # fmt: skip
    try:
        generators, discriminators = build("cyclegan", net)
    except ValueError as e:
        raise UserError(f"--netG {netG}: {e}") from e
    loss = CycleGANLoss(args.gan_mode or "lsgan", args.lambda_a, args.lambda_b, args.lambda_identity, args.pool_size)
    objective = CycleGANObjective(dict(generators.items()), dict(discriminators.items()), loss, preview_pairs)
    trainer = Trainer(
        objective, data, args.out, translation_train_config(args, data),
        model_meta={"model": "cyclegan", "config": asdict(net)},
        settings={"objective": asdict(loss), "data": str(args.data), "transform": asdict(transform)},
    )  # fmt: skip
    return trainer.fit(resume=args.resume)


# Ledig et al. section 3.2: SRResNet 10^6 updates at 1e-4; SRGAN 10^5 at 1e-4 then 10^5 at 1e-5.
SR_STEPS = {"srresnet": 1_000_000, "srgan": 200_000}


def _sr_network(args: argparse.Namespace, init: dict[str, Any] | None) -> SRResNetConfig | RRDBNetConfig:
    """``--arch``, ``--scale`` etc., or the architecture of the ``--init`` run (which must agree with ``--scale``)."""
    if init is None and args.arch == "rrdb":
        if args.scale not in (None, 4):
            raise UserError(f"--scale {args.scale}: --arch rrdb is x4")
        return RRDBNetConfig(features=args.ngf, blocks=args.blocks or 23)
    if init is None:
        return SRResNetConfig(scale=args.scale or 4, features=args.ngf, blocks=args.blocks or 16,
                              batch_norm=not args.no_bn)  # fmt: skip
    net = config_from_dict(RRDBNetConfig if init["model"] == "esrgan" else SRResNetConfig, init["config"])
    if args.scale is not None and args.scale != net.scale:
        raise UserError(f"--scale {args.scale}: the --init run {args.init} is x{net.scale}")
    return net


def train_super_resolution(args: argparse.Namespace) -> Path:
    """SRResNet (pixel loss, best checkpoint by validation PSNR) or SRGAN (content + 1e-3 adversarial,
    from ``--init`` SRResNet weights); Adam (0.9, 0.999) at 1e-4, 96 px HR crops, batch 16. With an
    RRDBNet (``--arch rrdb`` or an ``--init`` RRDBNet run) the GAN stage is ESRGAN's: relativistic
    average D, adversarial weight 5e-3."""
    from gansuite.inference import SR_MODELS, load_run

    torch.manual_seed(args.seed)
    init_meta, init_generators = load_run(args.init, SR_MODELS) if args.init else (None, None)
    if args.model == "srgan" and args.init is None:
        warnings.warn(
            "training SRGAN from scratch; the paper starts from a trained SRResNet (--init RUN)", stacklevel=2
        )
    net = _sr_network(args, init_meta)
    crop, batch_size = args.image_size or 96, args.batch_size or 16
    data = SRFolder(args.data, net.scale, crop, seed=args.seed, strict=args.strict, min_length=batch_size)
    val = SRFolder(args.val_data, net.scale, train=False, strict=args.strict) if args.val_data else None
    shown = SRFolder(args.val_data or args.data, net.scale, crop, seed=args.seed)
    preview_pairs = tuple(torch.stack(t) for t in zip(*(shown[i] for i in range(min(4, len(shown)))), strict=True))
    rrdb = isinstance(net, RRDBNetConfig)
    model = "esrgan" if rrdb else args.model
    generators, discriminators = build(model, net)
    if init_generators is not None:
        generators.load_state_dict(init_generators.state_dict())
    gan = args.model == "srgan"
    loss = SRLoss(
        content=args.content_loss or ("vgg54" if gan else "mse"),
        adversarial_weight=(5e-3 if rrdb else 1e-3) if gan else 0.0,
        gan_mode="ragan" if rrdb else "nonsaturating",
    )
    vgg = load_vgg_features(loss.content, args.vgg_weights) if loss.content.startswith("vgg") else None
    content = ContentLoss(loss.content, vgg).to(select_device(args.device))
    objective = SRObjective(generators["G"], discriminators["D"] if gan else None, loss, content, preview_pairs)
    steps = args.steps or SR_STEPS[args.model]
    eval_every = args.eval_every or (args.checkpoint_every if val is not None else 0)
    config = TrainConfig(
        steps=steps, batch_size=batch_size, lr_g=args.lr or 1e-4, lr_d=args.lr_d or args.lr or 1e-4,
        betas=(0.9, 0.999), lr_policy="step" if gan else args.lr_policy,
        decay_steps=steps // 2 if gan else (args.decay_steps or 0),
        ema=args.ema or 0.0, eval_every=eval_every, best_metric="psnr" if val is not None and not gan else "",
        **runtime_settings(args),
    )  # fmt: skip
    trainer = Trainer(
        objective, data, args.out, config,
        model_meta={"model": model, "config": asdict(net)},
        settings={"objective": asdict(loss), "data": str(args.data), "crop": crop, "init": str(args.init or "")},
        evaluator=validation(val, args.eval_samples, crop_border=net.scale, y_channel=True) if val else None,
    )  # fmt: skip
    return trainer.fit(resume=args.resume)
