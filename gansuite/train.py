"""``gansuite train MODEL``: the method's recipe, the user's flags on top of it, its data and objective,
then the one trainer.

Each model's command line is made here from its configs (gansuite.flags): ``gansuite train MODEL
--help`` lists what MODEL uses, with the recipe's defaults, and any other flag is refused. The
recipes themselves live beside the methods (``RECIPE`` in translation/pix2pix.py, core_gan/gans/...).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from core_gan.config import config_from_dict
from core_gan.data.digits import digits_dataset, digits_recipes
from core_gan.data.folders import PairedFolder, SRFolder, UnpairedFolder
from core_gan.data.images import ImageFolder
from core_gan.data.stream import steps_per_epoch
from core_gan.data.toy import TOYS, mode_coverage, toy_dataset
from core_gan.data.transforms import PREPROCESS, PairedTransformConfig
from core_gan.device import select_device
from core_gan.distributed import current_world
from core_gan.errors import UserError
from core_gan.gans import wgan, wgan_gp
from core_gan.gans.cgan import ACGANConfig
from core_gan.gans.gan import GANGame, GANGameConfig, GANObjective, UnrollConfig
from core_gan.hints import HintConfig, HintedPairs, load_with_zero_hints
from core_gan.losses import LOSSES
from core_gan.metrics.digits import DigitFeatures, train_classifier
from core_gan.metrics.evaluators import paired_validation
from core_gan.metrics.features import InceptionExtractor
from core_gan.metrics.generator import SampleDistance
from core_gan.models.dcgan import IMAGE_SIZES as DCGAN_SIZES
from core_gan.models.dcgan import DCGANConfig, norm_for_loss
from core_gan.models.translators import unets_for
from core_gan.nn import shape_problem
from core_gan.objective import Objective
from core_gan.recipe import Recipe, Schedule
from core_gan.trainer import Evaluator, TrainConfig, Trainer
from gansuite import flags
from gansuite.registry import MODELS, ModelSpec, Parts, build, model_for, models_of
from translation.esrgan import RRDBNetConfig
from translation.srgan import SCALES

SCHEDULE_FLAGS = ("steps", "epochs", "batch_size", "lr", "lr_d", "lr_policy", "ema")
VALIDATION_HINTS = 16
"""Hint points per validation image of a hinted pix2pix (the evaluation protocol of core_gan.hints)."""
GAMES = {"wgan": wgan, "wgan-gp": wgan_gp}
"""The base-GAN losses that are games of their own, with their paper's optimiser (the others: gan.py)."""


@dataclass
class Setup:
    """What the trainer needs for one run, as a family builder assembles it from data and flags."""

    objective: Objective
    dataset: Dataset
    model_meta: dict[str, Any]
    settings: dict[str, Any]
    evaluator: Evaluator | None = None
    best_metric: str = ""
    preview_reference: torch.Tensor | None = None
    has_validation: bool = False
    """Validation data is at hand: ``--eval-every`` defaults to every checkpoint."""
    no_evaluation: str = "no validation data"
    """Why ``--eval-every`` has nothing to evaluate, for its error message."""


# ---------------------------------------------------------------------------------------------
# The command line of each model


def add_train_parsers(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    """``gansuite train MODEL`` for every registered model, each with its own flags."""
    from gansuite.cli import TRAIN_HELP

    train = sub.add_parser("train", help=TRAIN_HELP, parents=parents)
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL", parser_class=type(train),
                                   help="the model to train")  # fmt: skip
    for spec in MODELS.values():
        p = models.add_parser(spec.name, help=spec.description, description=f"{spec.description}. Recipe: "
                              f"{spec.recipe.citation}.", parents=parents)  # fmt: skip
        p.add_argument("--data", required=True, help=DATA_HELP[spec.family])
        p.add_argument("--out", required=True, type=Path, help="the run directory to write (or --resume)")
        p.add_argument("--resume", action="store_true", help="continue RUN/checkpoints/last.pt to the same total")
        schedule = p.add_argument_group("schedule (the recipe's defaults shown)")
        flags.add_config_flags(schedule, "schedule", spec.recipe.schedule, SCHEDULE_FLAGS + EXTRA_SCHEDULE[spec.family])
        steps = next(a for a in schedule._group_actions if a.dest == "schedule.steps")
        if spec.recipe.schedule.epochs:
            steps.help = "total generator steps (default: from --epochs)"
        elif spec.name in digits_recipes():
            digits = digits_recipes()[spec.name].schedule.steps
            steps.help = f"total generator steps (default: {spec.recipe.schedule.steps}; --data digits: {digits})"
        schedule.add_argument("--decay-steps", type=flags.count(0), help="decay the lrs over the last N steps "
                              "(default: the recipe's fraction of the run)")  # fmt: skip
        flags.add_config_flags(p.add_argument_group("runtime"), "runtime", TrainConfig())
        FAMILY_FLAGS[spec.family](p, spec)


DATA_HELP = {
    "base": "ring8 | grid25 | digits | an image folder (classes: its first-level sub-folders)",
    "paired": "paired data: DATA/{train,val,test} of A|B side-by-side images, or DATA/A/train + DATA/B/train",
    "unpaired": "unpaired data: DATA/trainA, DATA/trainB (DATA/testA, DATA/testB shown in the samples)",
    "sr": "high-resolution images: a folder, or DATA/HR (+ DATA/LR_xS)",
}
EXTRA_SCHEDULE = {"base": ("d_steps",), "paired": (), "unpaired": (), "sr": ()}


def add_base_flags(p: argparse.ArgumentParser, spec: ModelSpec) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--image-size", type=flags.count(1), help="side of the generated images (digits, folders; "
                      f"dcgan/cgan: {', '.join(map(str, DCGAN_SIZES))}; default 32)")  # fmt: skip
    data.add_argument("--channels", type=int, choices=(1, 3), help="image folders: 1 (grey) or 3 (default)")
    data.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping")
    net = p.add_argument_group("networks")
    conditional = ("conditioning", "conditional_bn", "embed_dim") if spec.data == "class-conditional" else ()
    fields = ("latent_dim", "hidden", "layers", "minibatch_std", "spectral_norm", "ngf", "ndf", *conditional)
    flags.add_config_flags(net, "network", spec.recipe.network, fields)
    game = p.add_argument_group("adversarial game")
    game.add_argument(
        "--loss",
        choices=LOSSES,
        help="the game: minimax | nonsaturating | lsgan | hinge "
        "(gan.py), wgan (wgan.py: clipping, RMSProp), wgan-gp (wgan_gp.py) (default: nonsaturating)",
    )
    flags.add_config_flags(game, "game", GANGameConfig(), ("r1", "mode_seeking"))
    digits = digits_recipes().get(spec.name)
    if digits is not None and digits.loss.mode_seeking:
        seeking = next(a for a in game._group_actions if a.dest == "game.mode_seeking")
        seeking.help = f"{seeking.help.removesuffix(')')}; --data digits: {digits.loss.mode_seeking})"
    flags.add_config_flags(game, "wgan", wgan.WGANConfig())
    flags.add_config_flags(game, "wgan_gp", wgan_gp.WGANGPConfig())
    flags.add_config_flags(game, "unroll", UnrollConfig())
    if spec.data == "class-conditional":
        flags.add_config_flags(game, "acgan", ACGANConfig())
    add_eval_flags(p, "FID/KID (folders), digit-classifier FID/KID (digits) or mode coverage (toys)")
    p.add_argument("--fid-weights", type=Path, help="FID Inception weights for --eval-every on image folders")


def add_eval_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--eval-every", type=flags.count(0), help=f"steps between evaluations: {what} "
                   "(0: never; default: every checkpoint when there is validation data, else never)")  # fmt: skip
    p.add_argument("--eval-samples", type=flags.count(1), default=1000, help="images per evaluation (default 1000)")


def add_translation_data_flags(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    data = p.add_argument_group("data")
    data.add_argument("--crop-size", type=flags.count(1), help="training crops (default: the U-Net's size, else 256)")
    data.add_argument("--load-size", type=flags.count(1), help="images are loaded at this size, then cropped "
                      "(default: crop x 286/256)")  # fmt: skip
    data.add_argument("--preprocess", choices=PREPROCESS, help="the reference code's modes (default resize_and_crop)")
    data.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    data.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping")
    return data


def add_paired_flags(p: argparse.ArgumentParser, spec: ModelSpec) -> None:
    data = add_translation_data_flags(p)
    data.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"), help="A -> B (default) or B -> A")
    add_network_and_loss_flags(p, spec)
    flags.add_config_flags(p.add_argument_group("colour hints (with --hints)"), "hints", HintConfig())
    add_eval_flags(p, "L1, PSNR, SSIM on DATA/val (the best PSNR is kept in RUN/best)")


def add_unpaired_flags(p: argparse.ArgumentParser, spec: ModelSpec) -> None:
    data = add_translation_data_flags(p)
    data.add_argument("--serial", action="store_true", help="pair A[i] with B[i] instead of a random B")
    if len(spec.exports) == 1:  # a one-way translator
        data.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                          help="translate A -> B (default) or B -> A")  # fmt: skip
    add_network_and_loss_flags(p, spec)


def add_network_and_loss_flags(p: argparse.ArgumentParser, spec: ModelSpec) -> None:
    flags.add_config_flags(p.add_argument_group("networks"), "network", spec.recipe.network)
    flags.add_config_flags(p.add_argument_group("loss"), "loss", spec.recipe.loss)
    p.add_argument("--init", type=Path,
                   help="start the generators from this run's weights (a warm restart with a new schedule; "
                        "the discriminators start afresh)")  # fmt: skip


def add_sr_flags(p: argparse.ArgumentParser, spec: ModelSpec) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--crop-size", type=flags.count(1), help=f"HR training crops (default {spec.recipe.crop_size})")
    data.add_argument("--val-data", type=Path, help="held-out HR images: validation PSNR/SSIM (Y, scale cropped)")
    data.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping")
    net = p.add_argument_group("network")
    flags.add_config_flags(net, "network", spec.recipe.network, choices={"scale": SCALES})
    if not spec.starts_from:  # the PSNR-oriented stage, which may train ESRGAN's network
        net.add_argument("--arch", choices=("srresnet", "rrdb"),
                         help="G: SRResNet (default) or ESRGAN's RRDBNet (x4), for its PSNR stage")  # fmt: skip
        flags.add_config_flags(net, "rrdb", RRDBNetConfig(), ("growth",))
        flags.add_config_flags(p.add_argument_group("loss"), "loss", spec.recipe.loss, ("content_loss",))
        p.add_argument("--init", type=Path, help="start G from this run's weights (fine-tuning with a new schedule)")
    else:
        flags.add_config_flags(p.add_argument_group("loss"), "loss", spec.recipe.loss)
        p.add_argument("--init", type=Path, help=f"start G from this run (the paper: {spec.starts_from})")
    p.add_argument("--vgg-weights", type=Path, help="torchvision's vgg19-dcbb9e9d.pth (default: torch hub cache)")
    add_eval_flags(p, "PSNR/SSIM on --val-data")


FAMILY_FLAGS: dict[str, Callable[[argparse.ArgumentParser, ModelSpec], None]] = {
    "base": add_base_flags, "paired": add_paired_flags, "unpaired": add_unpaired_flags, "sr": add_sr_flags,
}  # fmt: skip


def runtime(args: argparse.Namespace) -> TrainConfig:
    """The runtime flags (device, seed, cadences) over TrainConfig's defaults."""
    return flags.replace(TrainConfig(), args, "runtime")


def refuse(flag: str, why: str) -> None:
    raise UserError(f"{flag}: {why}")


# ---------------------------------------------------------------------------------------------
# Flags -> configs -> the trainer


def train(args: argparse.Namespace) -> Path:
    """Any model: its recipe with the user's flags, its family's data and objective, the trainer."""
    spec = MODELS[args.model]
    recipe = base_recipe(spec, args) if spec.family == "base" else spec.recipe
    schedule = resolve_schedule(recipe.schedule, args)
    torch.manual_seed(runtime(args).seed)
    setup = BUILDERS[spec.family](spec, recipe, schedule, args)
    config = train_config(schedule, args, setup)
    trainer = Trainer(
        setup.objective, setup.dataset, args.out, config, model_meta=setup.model_meta,
        settings={**setup.settings, "data": str(args.data), "recipe": recipe.citation},
        preview_reference=setup.preview_reference, evaluator=setup.evaluator,
    )  # fmt: skip
    return trainer.fit(resume=args.resume)


def resolve_schedule(recipe: Schedule, args: argparse.Namespace) -> Schedule:
    """The recipe's schedule with the user's flags; ``--steps`` replaces the recipe's epochs."""
    given = flags.given(args, "schedule")
    if "steps" in given and "epochs" in given:
        refuse("--steps/--epochs", "give one of the two")
    if "steps" in given:
        given["epochs"] = 0
    return replace(recipe, **given)


def train_config(schedule: Schedule, args: argparse.Namespace, setup: Setup) -> TrainConfig:
    if schedule.epochs:
        per_epoch = steps_per_epoch(setup.dataset, schedule.batch_size, current_world().size)
        steps = max(1, schedule.epochs * per_epoch // schedule.d_steps)
    else:
        steps = schedule.steps
    decay = args.decay_steps if args.decay_steps is not None else round(steps * schedule.decay_fraction)
    if schedule.lr_policy == "step" and decay == 0:
        refuse("--lr-policy step", "needs --decay-steps N (the rate is multiplied by 0.1 every N steps)")
    given_runtime = flags.given(args, "runtime")
    checkpoint_every = given_runtime.get("checkpoint_every", TrainConfig.checkpoint_every)
    eval_every = getattr(args, "eval_every", None)
    if setup.evaluator is None and eval_every:
        refuse("--eval-every", f"there is nothing to evaluate ({setup.no_evaluation})")
    if eval_every is None:
        eval_every = checkpoint_every if setup.has_validation else 0
    return TrainConfig(
        steps=steps, batch_size=schedule.batch_size, lr_g=schedule.lr, lr_d=schedule.lr_d or schedule.lr,
        betas=schedule.betas, optimizer=schedule.optimizer, d_steps=schedule.d_steps, lr_policy=schedule.lr_policy,
        decay_steps=decay, ema=schedule.ema, eval_every=eval_every,
        best_metric=setup.best_metric if eval_every else "", **given_runtime,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Base GANs


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


def base_recipe(spec: ModelSpec, args: argparse.Namespace) -> Recipe:
    """The model's recipe, the built-in dataset's own (``--data digits``) where it has one, and the
    optimiser of the WGAN papers with ``--loss wgan`` / ``wgan-gp``."""
    recipe = digits_recipes().get(spec.name, spec.recipe) if args.data == "digits" else spec.recipe
    game = GAMES.get(args.loss or "")
    if game is None:
        return recipe
    s = game.RECIPE.schedule
    optimiser = {"lr": s.lr, "betas": s.betas, "optimizer": s.optimizer, "d_steps": s.d_steps}
    schedule = replace(recipe.schedule, **optimiser)
    return replace(recipe, citation=f"{recipe.citation}; the optimiser of {game.RECIPE.citation}", schedule=schedule)


def make_game(args: argparse.Namespace, recipe: Recipe) -> tuple[GANGame, dict[str, Any]]:
    """The game ``--loss`` names (over the recipe's game settings), refusing the flags of the other games."""
    loss = args.loss or GANGameConfig().loss
    mine = {"wgan": "wgan", "wgan-gp": "wgan_gp"}.get(loss, "game")
    for group, owner in (("game", "minimax, nonsaturating, lsgan or hinge"), ("wgan", "wgan"), ("wgan_gp", "wgan-gp")):
        extra = flags.given(args, group)
        if group != mine and extra:
            refuse(flags.flag_name(next(iter(extra))), f"only --loss {owner} uses it (the loss is {loss})")
    if loss == "wgan":
        config: Any = flags.replace(wgan.WGANConfig(), args, "wgan")
        return wgan.WGANGame(config), asdict(config)
    if loss == "wgan-gp":
        config = flags.replace(wgan_gp.WGANGPConfig(), args, "wgan_gp")
        return wgan_gp.WGANGPGame(config), asdict(config)
    base = recipe.loss if isinstance(recipe.loss, GANGameConfig) else GANGameConfig()
    config = flags.replace(replace(base, loss=loss), args, "game")
    settings = {k: v for k, v in asdict(config).items() if k != "mode_seeking" or v}  # the configs of older runs
    return GANGame(config.loss, config.r1, config.mode_seeking), settings


def critic_network(recipe: Recipe, args: argparse.Namespace) -> Any:
    """The recipe's network with the user's flags. WGAN-GP's penalty is per sample, so its critic
    has no batch statistic (Gulrajani et al. section 4): no minibatch-stddev feature unless asked."""
    net = flags.replace(recipe.network, args, "network")
    if args.loss == "wgan-gp" and "minibatch_std" not in flags.given(args, "network"):
        net = replace(net, minibatch_std=False)
    return net


def base_network(spec: ModelSpec, recipe: Recipe, args: argparse.Namespace, data: BaseData) -> Any:
    """The recipe's network with the user's flags and the data's shape and classes."""
    if not isinstance(recipe.network, DCGANConfig):  # an MLP: any data shape
        return replace(critic_network(recipe, args), data_shape=data.shape)
    if len(data.shape) != 3:
        refuse(f"--data {args.data}", f"{spec.name} needs images; for 2-D points use `gansuite train gan`")
    if data.shape[1] not in DCGAN_SIZES:
        refuse(f"--image-size {data.shape[1]}", f"{spec.name} generates {', '.join(map(str, DCGAN_SIZES))} px")
    conditional = spec.data == "class-conditional"
    if conditional and data.num_classes < 2:
        refuse(f"--data {args.data}", f"{spec.name} needs classes (images in one sub-folder per class)")
    net: DCGANConfig = critic_network(recipe, args)
    return replace(
        net, image_size=data.shape[1], channels=data.shape[0], d_norm=norm_for_loss(args.loss or ""),
        num_classes=data.num_classes if conditional else 0,
    )  # fmt: skip


def build_base(spec: ModelSpec, recipe: Recipe, schedule: Schedule, args: argparse.Namespace) -> Setup:
    """gan, dcgan or cgan on a toy, the digits or an image folder."""
    toy = args.data in TOYS
    for flag, value in (("--image-size", args.image_size), ("--channels", args.channels)):
        if toy and value is not None:
            refuse(flag, f"{args.data} is 2-D points, not images")
    if args.data == "digits" and args.channels is not None:
        refuse("--channels", "digits are grey images (1 channel)")
    if args.fid_weights is not None and (toy or args.data == "digits"):
        refuse("--fid-weights", f"{args.data} is evaluated without Inception")
    data = load_base_data(args.data, args.image_size or 32, args.channels or 3, args.strict)
    net = base_network(spec, recipe, args, data)
    generators, discriminators = build(spec.name, net)
    game, game_settings = make_game(args, recipe)
    unroll = flags.replace(UnrollConfig(), args, "unroll")
    if current_world().size > 1 and (unroll.unroll or getattr(net, "conditioning", "") == "acgan"):
        flag = "--unroll" if unroll.unroll else "--conditioning acgan"
        refuse(flag, "is single-process only (it calls D outside DistributedDataParallel)")
    acgan = flags.replace(ACGANConfig(), args, "acgan") if spec.data == "class-conditional" else None
    if acgan is not None and net.conditioning != "acgan" and flags.given(args, "acgan"):
        refuse("--acgan-weight", "only --conditioning acgan uses it")
    extras = {"game": game, "unroll": unroll, "acgan": acgan}
    objective: GANObjective = spec.objective(Parts(dict(generators), dict(discriminators), extras=extras))
    settings = {"objective": {"loss": args.loss or "nonsaturating", **game_settings, **asdict(unroll)}}
    return Setup(
        objective, data.dataset, {"model": spec.name, "config": asdict(net)}, settings,
        evaluator=base_evaluator(args, data, objective), preview_reference=data.reference,
    )  # fmt: skip


def base_evaluator(args: argparse.Namespace, data: BaseData, objective: GANObjective) -> Evaluator | None:
    """What ``--eval-every`` reports: mode coverage on 2-D toys, Fréchet distance and KID in a digit
    classifier's feature space on ``digits``, FID and KID (Inception) on image folders."""
    if not args.eval_every:
        return None
    seed = runtime(args).seed + 1
    if args.data in TOYS:

        def coverage(generators: nn.ModuleDict) -> dict[str, float]:
            modes, quality = mode_coverage(objective.preview(generators, 2000, seed).cpu(), args.data)
            return {"modes": modes, "high_quality": quality}

        return coverage
    n = min(args.eval_samples, len(data.dataset))
    real = torch.stack([data.dataset[i][0] for i in range(n)])
    if args.data == "digits":
        classifier, accuracy = train_classifier()
        print(f"digit classifier for --eval-every: held-out accuracy {accuracy:.1%}")
        distance = SampleDistance(DigitFeatures(classifier), real, n)
    else:
        device = select_device(runtime(args).device)
        distance = SampleDistance(InceptionExtractor(args.fid_weights, device), real, n)
    return lambda generators: distance(lambda k: objective.preview(generators, k, seed))


# ---------------------------------------------------------------------------------------------
# pix2pix and CycleGAN


def unet_for_crop(network: Any, args: argparse.Namespace) -> Any:
    """``--crop-size N`` without ``--netG`` (and no ``--init``): a recipe's U-Net becomes unet_N, the one
    that fits N px crops (said in one line)."""
    crop = args.crop_size
    if crop is None or args.init is not None or "netG" in flags.given(args, "network"):
        return network
    if network.netG.startswith("unet_") and network.netG != f"unet_{crop}" and f"unet_{crop}" in unets_for(crop):
        warnings.warn(f"--crop-size {crop}: G is unet_{crop}, the U-Net for {crop} px crops (--netG chooses another)",
                      stacklevel=2)  # fmt: skip
        return replace(network, netG=f"unet_{crop}")
    return network


def check_crop(crop: int, batch: int, netG: str, networks: nn.ModuleDict) -> None:
    """Every network can train on ``batch`` crops of ``crop`` px (checked on shapes alone, before a run
    folder exists); else one line naming the flag and what fits."""
    for name, net in networks.items():
        problem = shape_problem(net, batch, crop)
        if problem is None:
            continue
        if name.startswith("G") and netG.startswith("unet_"):
            fitting = unets_for(crop)
            n = int(netG.removeprefix("unet_"))
            fix = f"--netG {' or '.join(fitting)}" if fitting else "a U-Net needs a multiple of a power of 2 >= 32"
            refuse(f"--crop-size {crop}", f"{netG} takes crops that are multiples of {n} ({n}, {2 * n}, ...); "
                   f"use --crop-size {max(n, round(crop / n) * n)}, or for {crop} px crops: {fix}")  # fmt: skip
        refuse(f"--crop-size {crop}", f"{name} cannot train on {crop} px crops at batch {batch} ({problem}); "
               "use a larger --crop-size (or, for D, fewer --n-layers-d)")  # fmt: skip


def paired_transform(args: argparse.Namespace, netG: str, recipe: Recipe) -> PairedTransformConfig:
    """``--crop-size`` (else the U-Net's own size: unet_256 -> 256, else the recipe's), loaded at
    ``--load-size`` (else crop x 286/256)."""
    crop = args.crop_size or (int(netG.removeprefix("unet_")) if netG.startswith("unet_") else recipe.crop_size)
    load = args.load_size or round(crop * 286 / 256)
    return PairedTransformConfig(args.preprocess or "resize_and_crop", load, crop, not args.no_flip)


def preview_batch(dataset: Dataset, n: int) -> tuple[torch.Tensor, ...]:
    """The first ``n`` items of ``dataset``, stacked (the fixed inputs of the sample grids)."""
    items = [dataset[i] for i in range(min(n, len(dataset)))]  # type: ignore[arg-type]
    return tuple(torch.stack(t) for t in zip(*items, strict=True))


def refuse_network_flags(args: argparse.Namespace, changed: list[str]) -> None:
    if changed:
        refuse(changed[0], f"the networks come from the --init run {args.init}")


def translation_network(spec: ModelSpec, args: argparse.Namespace) -> tuple[Any, nn.ModuleDict | None]:
    """The recipe's networks with the flags, or the ``--init`` run's (which the flags may not change,
    but for ``--hints``: a hint-less run's G gains zero-weighted hint channels) with its generators."""
    if args.init is None:
        return flags.replace(spec.recipe.network, args, "network"), None
    changed = flags.given(args, "network")
    hints = changed.pop("hints", None)
    refuse_network_flags(args, [flags.flag_name(k) for k in changed])
    from gansuite.runs import load_run, resolve_run

    meta, generators = load_run(resolve_run(args.init), (spec.name,))
    network = config_from_dict(type(spec.recipe.network), meta["config"])
    if hints is not None and hints != network.hints:
        if not hints:
            refuse("--no-hints", f"the --init run {args.init} reads colour hints")
        network = replace(network, hints=True)
    return network, generators


def translation_networks(
    spec: ModelSpec, args: argparse.Namespace, net: Any, init: nn.ModuleDict | None, **channels: int
) -> Any:
    """The config, generators and discriminators for data of ``channels``; the generators hold the
    ``--init`` run's weights when there is one."""
    net = replace(net, **channels)
    try:
        generators, discriminators = build(spec.name, net)
    except ValueError as e:
        raise UserError(f"--netG {net.netG}: {e}") from e
    if init is not None:
        try:
            load_with_zero_hints(generators, init.state_dict())
        except RuntimeError as e:
            reason = (str(e).splitlines()[1:] or [str(e)])[0].strip()
            raise UserError(f"--init {args.init}: its generators do not fit this data ({reason})") from e
    return net, generators, discriminators


def build_paired(spec: ModelSpec, recipe: Recipe, schedule: Schedule, args: argparse.Namespace) -> Setup:
    """pix2pix on DATA/train, validated on DATA/val when there is one."""
    seed = runtime(args).seed
    network, init = translation_network(spec, args)
    network = unet_for_crop(network, args)
    transform = paired_transform(args, network.netG, recipe)
    data: Dataset = PairedFolder(args.data, "train", args.direction, transform, seed=seed, strict=args.strict)
    root = Path(args.data)
    has_val = (root / "val").is_dir() or (root / "A" / "val").is_dir()
    val = PairedFolder(root, "val", args.direction, transform, train=False, strict=args.strict) if has_val else None
    channels = {"input_nc": data[0][0].shape[0], "output_nc": data[0][1].shape[0]}
    hint_config = flags.replace(HintConfig(), args, "hints")
    if network.hints:
        data = HintedPairs(data, hint_config)
        val = HintedPairs(val, hint_config, eval_count=VALIDATION_HINTS) if val is not None else None
    elif flags.given(args, "hints"):
        refuse(flags.flag_name(next(iter(flags.given(args, "hints")))), "sets how colour hints are drawn: add --hints")
    preview = preview_batch(val if val is not None else data, 4)
    net, generators, discriminators = translation_networks(spec, args, network, init, **channels)
    check_crop(transform.crop_size, schedule.batch_size, net.netG, nn.ModuleDict({**generators, **discriminators}))
    loss = flags.replace(recipe.loss, args, "loss")
    parts = Parts(dict(generators), dict(discriminators), loss, preview, seed, condition_channels=net.input_nc)
    objective = spec.objective(parts)
    evaluator = paired_validation(val, args.eval_samples) if val is not None and args.eval_every != 0 else None
    hint_settings = {"hints": asdict(hint_config), "validation_hints": VALIDATION_HINTS} if net.hints else {}
    return Setup(
        objective, data, {"model": spec.name, "config": asdict(net), "direction": args.direction},
        {"objective": asdict(loss), "transform": asdict(transform), "init": str(args.init or ""), **hint_settings},
        evaluator=evaluator, best_metric=recipe.best_metric,
        has_validation=val is not None, no_evaluation=f"{args.data} has no val split",
    )  # fmt: skip


def build_unpaired(spec: ModelSpec, recipe: Recipe, schedule: Schedule, args: argparse.Namespace) -> Setup:
    """CycleGAN, CUT, ... on DATA/trainA and DATA/trainB; the sample grids show DATA/testA/B when present."""
    seed = runtime(args).seed
    network, init = translation_network(spec, args)
    network = unet_for_crop(network, args)
    transform = paired_transform(args, network.netG, recipe)
    direction = getattr(args, "direction", "AtoB")
    data = UnpairedFolder(args.data, "train", transform, serial=args.serial, seed=seed, strict=args.strict,
                          direction=direction)  # fmt: skip
    root = Path(args.data)
    has_test = (root / "testA").is_dir() and (root / "testB").is_dir()
    test = UnpairedFolder(root, "test", transform, train=False, direction=direction) if has_test else data
    preview = preview_batch(test, 2)
    channels = {"a_nc": preview[0].shape[1], "b_nc": preview[1].shape[1]}
    net, generators, discriminators = translation_networks(spec, args, network, init, **channels)
    check_crop(transform.crop_size, schedule.batch_size, net.netG, nn.ModuleDict({**generators, **discriminators}))
    loss = flags.replace(recipe.loss, args, "loss")
    objective = spec.objective(Parts(dict(generators), dict(discriminators), loss, preview, seed))
    one_way = {"direction": direction} if len(spec.exports) == 1 else {}
    return Setup(
        objective, data, {"model": spec.name, "config": asdict(net), **one_way},
        {"objective": asdict(loss), "transform": asdict(transform), "init": str(args.init or "")},
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Super-resolution


def sr_network(spec: ModelSpec, args: argparse.Namespace, init: dict[str, Any] | None) -> Any:
    """The network of the ``--init`` run (flags may not change it), else the recipe's with the flags."""
    if init is not None:
        changed = [flags.flag_name(k) for k in {**flags.given(args, "network"), **flags.given(args, "rrdb")}]
        if getattr(args, "arch", None):
            changed.append("--arch")
        refuse_network_flags(args, changed)
        cls = MODELS[init["model"]].config_cls
        if spec.starts_from and cls is not spec.config_cls:  # a GAN stage trains the network it starts from
            trains = [name for name, s in MODELS.items() if s.starts_from and s.config_cls is cls]
            refuse(
                f"--init {args.init}",
                f"is a {init['model']} run ({cls.__name__}); {spec.name} trains a "
                f"{spec.config_cls.__name__}" + (f": use `gansuite train {trains[0]}`" if trains else ""),
            )
        return config_from_dict(cls, init["config"])
    if getattr(args, "arch", None) == "rrdb":
        scale = flags.given(args, "network").get("scale", 4)
        if scale != 4:
            refuse(f"--scale {scale}", "--arch rrdb is x4")
        unused = {"batch_norm"} & flags.given(args, "network").keys()
        if unused:
            refuse("--batch-norm", "RRDBNet has no batch norm")
        given = {k: v for k, v in flags.given(args, "network").items() if k in ("features", "blocks")}
        return flags.replace(RRDBNetConfig(**given), args, "rrdb")
    if flags.given(args, "rrdb"):
        refuse("--growth", "only --arch rrdb uses it")
    return flags.replace(spec.recipe.network, args, "network")


def build_sr(spec: ModelSpec, recipe: Recipe, schedule: Schedule, args: argparse.Namespace) -> Setup:
    """SRResNet (pixel loss, best checkpoint by validation PSNR), SRGAN (content + 1e-3 adversarial,
    from ``--init``) or ESRGAN (L1 + pre-activation VGG + relativistic D, from ``--init``)."""
    from gansuite.runs import load_run

    seed = runtime(args).seed
    init = getattr(args, "init", None)
    init_meta, init_generators = load_run(init, models_of("sr")) if init else (None, None)
    if spec.starts_from and init is None:
        warnings.warn(f"training {spec.name} from scratch; the paper starts from {spec.starts_from}", stacklevel=2)
    net = sr_network(spec, args, init_meta)
    crop = args.crop_size or recipe.crop_size
    data = SRFolder(args.data, net.scale, crop, seed=seed, strict=args.strict, min_length=schedule.batch_size)
    val = SRFolder(args.val_data, net.scale, train=False, strict=args.strict) if args.val_data else None
    preview = preview_batch(SRFolder(args.val_data or args.data, net.scale, crop, seed=seed), 4)
    model = model_for(net, spec)
    generators, discriminators = build(model, net)
    if init_generators is not None:
        generators.load_state_dict(init_generators.state_dict())
    loss = flags.replace(recipe.loss, args, "loss")
    device = select_device(runtime(args).device)
    extras = {"vgg_weights": args.vgg_weights} if args.vgg_weights is not None else {}
    parts = Parts(dict(generators), dict(discriminators), loss, preview, seed, device, extras=extras)
    objective = spec.objective(parts)
    evaluator = None
    if val is not None and args.eval_every != 0:
        evaluator = paired_validation(val, args.eval_samples, crop_border=net.scale, y_channel=True)
    return Setup(
        objective, data, {"model": model, "config": asdict(net)},
        {"objective": asdict(loss), "crop": crop, "init": str(init or "")}, evaluator=evaluator,
        best_metric=recipe.best_metric,
        has_validation=val is not None, no_evaluation="no --val-data",
    )  # fmt: skip


BUILDERS: dict[str, Callable[[ModelSpec, Recipe, Schedule, argparse.Namespace], Setup]] = {
    "base": build_base, "paired": build_paired, "unpaired": build_unpaired, "sr": build_sr,
}  # fmt: skip
