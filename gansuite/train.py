"""``gansuite train MODEL``: the method's recipe with the user's flags on top of it, as the typed
configs of a gansuite.training.Training, which gansuite.training.train trains.

Each model's command line is made here from its configs (gansuite.flags): ``gansuite train MODEL
--help`` lists what MODEL uses, with the recipe's defaults, and any other flag is refused. The
recipes themselves live beside the methods (``RECIPE`` in translation/pix2pix.py, core_gan/gans/...).
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from core_gan.data.digits import digits_recipes
from core_gan.data.transforms import PREPROCESS
from core_gan.gans.cgan import ACGANConfig
from core_gan.gans.gan import GANGameConfig, UnrollConfig
from core_gan.hints import HintConfig
from core_gan.losses import LOSSES
from core_gan.models.dcgan import IMAGE_SIZES as DCGAN_SIZES
from core_gan.models.translators import unets_for
from core_gan.recipe import Recipe, Schedule
from core_gan.trainer import TrainConfig
from gansuite import flags, training
from gansuite.registry import MODELS, ModelSpec
from gansuite.training import (
    GAMES,
    EvalConfig,
    GANData,
    SRData,
    Training,
    TranslationData,
    data_path,
    game_name,
    init_network,
    recipe_for,
    refuse,
)
from translation.esrgan import RRDBNetConfig
from translation.srgan import SCALES

SCHEDULE_FLAGS = ("steps", "epochs", "batch_size", "lr", "lr_d", "lr_policy", "ema", "decay_steps")


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
    for g in GAMES.values():
        flags.add_config_flags(game, g.flags, g.config())
    flags.add_config_flags(game, "unroll", UnrollConfig())
    if spec.data == "class-conditional":
        flags.add_config_flags(game, "acgan", ACGANConfig())
    add_eval_flags(p, "FID/KID (folders), digit-classifier FID/KID (digits) or mode coverage (toys)")
    p.add_argument("--fid-weights", type=Path, help="FID Inception weights for --eval-every on image folders")


def add_eval_flags(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--eval-every", type=flags.count(0), help=f"steps between evaluations: {what} "
                   "(0: never; default: every checkpoint when there is validation data, else never)")  # fmt: skip
    p.add_argument("--eval-samples", type=flags.count(1), default=EvalConfig.samples,
                   help=f"images per evaluation (default {EvalConfig.samples})")  # fmt: skip


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


# ---------------------------------------------------------------------------------------------
# Flags -> a Training (gansuite.training), and back


def runtime(args: argparse.Namespace) -> TrainConfig:
    """The runtime flags (device, seed, cadences) over TrainConfig's defaults."""
    return flags.replace(TrainConfig(), args, "runtime")


def train(args: argparse.Namespace) -> Path:
    """``gansuite train MODEL``: its flags as a Training, trained by gansuite.training.train."""
    return training.train(training_from_args(args), args.out, resume=args.resume)


def training_from_args(args: argparse.Namespace) -> Training:
    """The model's recipe (for its data and game) with the user's flags on it, as typed configs."""
    spec = MODELS[args.model]
    recipe = recipe_for(spec, args.data, getattr(args, "loss", None) or "")
    evaluation = EvalConfig(getattr(args, "eval_every", None), getattr(args, "eval_samples", EvalConfig.samples),
                            getattr(args, "fid_weights", None))  # fmt: skip
    return Training(
        spec.name, schedule=resolve_schedule(recipe.schedule, args), runtime=runtime(args), evaluation=evaluation,
        init=getattr(args, "init", None), **FROM_FLAGS[spec.family](spec, recipe, args),
    )  # fmt: skip


def resolve_schedule(recipe: Schedule, args: argparse.Namespace) -> Schedule:
    """The recipe's schedule with the user's flags; ``--steps`` replaces the recipe's epochs."""
    given = flags.given(args, "schedule")
    if "steps" in given and "epochs" in given:
        refuse("--steps/--epochs", "give one of the two")
    if "steps" in given:
        given["epochs"] = 0
    return replace(recipe, **given)


def base_from_flags(spec: ModelSpec, recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        data=GANData(args.data, args.image_size, args.channels, args.strict), loss=game_from_flags(args, recipe),
        network=flags.replace(recipe.network, args, "network"), unroll=given_or_none(UnrollConfig(), args, "unroll"),
        acgan=given_or_none(ACGANConfig(), args, "acgan"),
    )  # fmt: skip


def given_or_none(defaults: Any, args: argparse.Namespace, group: str) -> Any:
    """``defaults`` with the flags of ``group`` when any is given, else None (the Training's default)."""
    return flags.replace(defaults, args, group) if flags.given(args, group) else None


def game_from_flags(args: argparse.Namespace, recipe: Recipe) -> Any:
    """The config of the game ``--loss`` names (over the recipe's game settings), refusing the flags of
    the other games."""
    loss = args.loss or GANGameConfig().loss
    mine = GAMES[loss].flags if loss in GAMES else "game"
    owners = {"game": "minimax, nonsaturating, lsgan or hinge"} | {g.flags: name for name, g in GAMES.items()}
    for group, owner in owners.items():
        extra = flags.given(args, group)
        if group != mine and extra:
            refuse(flags.flag_name(next(iter(extra))), f"only --loss {owner} uses it (the loss is {loss})")
    return flags.replace(game_reference(recipe, loss), args, mine)


def game_reference(recipe: Recipe, game: str) -> Any:
    """The config of ``game`` before any flag: a WGAN's defaults, or the recipe's settings of the
    divergence-style games (R1, mode seeking)."""
    if game in GAMES:
        return GAMES[game].config()
    return replace(recipe.loss if isinstance(recipe.loss, GANGameConfig) else GANGameConfig(), loss=game)


def translation_from_flags(spec: ModelSpec, recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    data = TranslationData(args.data, args.crop_size, args.load_size, args.preprocess, not args.no_flip,
                           getattr(args, "direction", "AtoB"), getattr(args, "serial", False), args.strict)  # fmt: skip
    hints = given_or_none(HintConfig(), args, "hints")
    loss = flags.replace(recipe.loss, args, "loss")
    return dict(data=data, network=translation_network_from_flags(spec, recipe, args), loss=loss, hints=hints)


def translation_network_from_flags(spec: ModelSpec, recipe: Recipe, args: argparse.Namespace) -> Any:
    """The recipe's networks with the flags; with ``--init``, that run's (None), which only ``--hints``
    may change."""
    if args.init is None:
        return unet_for_crop(flags.replace(recipe.network, args, "network"), args)
    changed = flags.given(args, "network")
    hints = changed.pop("hints", None)
    refuse_network_flags(args, [flags.flag_name(k) for k in changed])
    return None if hints is None else replace(init_network(spec.name, args.init), hints=hints)


def unet_for_crop(network: Any, args: argparse.Namespace) -> Any:
    """``--crop-size N`` without ``--netG``: a recipe's U-Net becomes unet_N, the one that fits N px
    crops (said in one line)."""
    crop = args.crop_size
    if crop is None or "netG" in flags.given(args, "network"):
        return network
    if network.netG.startswith("unet_") and network.netG != f"unet_{crop}" and f"unet_{crop}" in unets_for(crop):
        warnings.warn(f"--crop-size {crop}: G is unet_{crop}, the U-Net for {crop} px crops (--netG chooses another)",
                      stacklevel=2)  # fmt: skip
        return replace(network, netG=f"unet_{crop}")
    return network


def refuse_network_flags(args: argparse.Namespace, changed: list[str]) -> None:
    if changed:
        refuse(changed[0], f"the networks come from the --init run {args.init}")


def sr_from_flags(spec: ModelSpec, recipe: Recipe, args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        data=SRData(args.data, args.crop_size, args.val_data, args.strict), network=sr_network_from_flags(recipe, args),
        loss=flags.replace(recipe.loss, args, "loss"), vgg_weights=args.vgg_weights,
    )  # fmt: skip


def sr_network_from_flags(recipe: Recipe, args: argparse.Namespace) -> Any:
    """The recipe's network with the flags (``--arch rrdb``: ESRGAN's RRDBNet); with ``--init``, that
    run's (None), which the flags may not change."""
    given = flags.given(args, "network")
    if args.init is not None:
        refuse_network_flags(args, [flags.flag_name(k) for k in {**given, **flags.given(args, "rrdb")}]
                             + (["--arch"] if getattr(args, "arch", None) else []))  # fmt: skip
        return None
    if getattr(args, "arch", None) == "rrdb":
        if "batch_norm" in given:
            refuse("--batch-norm", "RRDBNet has no batch norm")
        shared = {k: v for k, v in given.items() if k in ("scale", "features", "blocks")}
        return flags.replace(RRDBNetConfig(**shared), args, "rrdb")
    if flags.given(args, "rrdb"):
        refuse("--growth", "only --arch rrdb uses it")
    return flags.replace(recipe.network, args, "network")


FROM_FLAGS: dict[str, Callable[[ModelSpec, Recipe, argparse.Namespace], dict[str, Any]]] = {
    "base": base_from_flags, "paired": translation_from_flags, "unpaired": translation_from_flags, "sr": sr_from_flags,
}  # fmt: skip


def command(run: Training) -> list[str]:
    """The ``gansuite`` arguments that make ``run`` (:func:`training_from_args` reads them back): each
    setting that differs from the recipe's, as its flag. A setting no flag sets raises ValueError."""
    spec = MODELS[run.model]
    data = run.data
    game = game_name(run.loss) if spec.family == "base" and run.loss is not None else ""
    recipe = recipe_for(spec, getattr(data, "source", ""), game)
    argv = ["train", run.model, "--data", data_path(data)]
    for field in dataclasses.fields(data)[1:]:
        value = getattr(data, field.name)
        if value != field.default:
            argv += DATA_FLAGS.get(field.name, [flags.flag_name(field.name)]) + (
                [] if isinstance(value, bool) else [str(value)]
            )
    return argv + network_flags(run, spec, recipe) + loss_flags(run, spec, recipe, game) + [
        *schedule_flags(run.schedule or recipe.schedule, recipe.schedule, spec.family),
        *config_flags(run.runtime, TrainConfig()), *evaluation_flags(run.evaluation, spec.family),
        *(["--vgg-weights", str(run.vgg_weights)] if run.vgg_weights is not None else []),
    ]  # fmt: skip


def network_flags(run: Training, spec: ModelSpec, recipe: Recipe) -> list[str]:
    """``--init`` (which only ``--hints`` may change), else the network's flags over the recipe's."""
    if run.init is not None:
        return ["--init", str(run.init), *(["--hints"] if getattr(run.network, "hints", False) else [])]
    network = run.network or recipe.network
    if not isinstance(network, type(recipe.network)):  # a PSNR stage of super-resolution training RRDBNet
        return ["--arch", "rrdb", *config_flags(network, RRDBNetConfig())]
    argv = config_flags(network, recipe.network)
    netG = getattr(network, "netG", "")
    if getattr(run.data, "crop_size", None) and netG.startswith("unet_") and netG == recipe.network.netG:
        argv += ["--netG", netG]  # else --crop-size would choose the crop's U-Net
    return argv


def loss_flags(run: Training, spec: ModelSpec, recipe: Recipe, game: str) -> list[str]:
    """The loss's flags over the recipe's; a base GAN's ``--loss``, its game's flags, unrolling, AC-GAN;
    colour hints."""
    argv = []
    if spec.family == "base" and run.loss is not None:
        argv += ["--loss", game] if game != GANGameConfig().loss else []
        argv += config_flags(run.loss, game_reference(recipe, game))
    elif run.loss is not None:
        argv += config_flags(run.loss, recipe.loss)
    for part, reference in (("hints", HintConfig()), ("unroll", UnrollConfig()), ("acgan", ACGANConfig())):
        argv += config_flags(getattr(run, part) or reference, reference)
    return argv


DATA_FLAGS = {"flip": ["--no-flip"], "val": ["--val-data"]}
"""The flags of the data fields not named after them."""


def config_flags(config: Any, reference: Any) -> list[str]:
    """The flags that turn ``reference`` into ``config`` (its settable fields)."""
    argv: list[str] = []
    for name in training.changed_fields(config, reference):
        value, flag = getattr(config, name), flags.flag_name(name)
        if isinstance(value, bool):
            argv.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            argv += [flag, *map(str, value if isinstance(value, tuple) else (value,))]
    return argv


def schedule_flags(schedule: Schedule, recipe: Schedule, family: str) -> list[str]:
    """The schedule's flags: ``--steps`` (which drops the recipe's epochs) or ``--epochs``, and the others."""
    argv = []
    if schedule.epochs and schedule.epochs != recipe.epochs:
        argv += ["--epochs", str(schedule.epochs)]
    if not schedule.epochs and (schedule.steps != recipe.steps or recipe.epochs):
        argv += ["--steps", str(schedule.steps)]
    rest = replace(schedule, steps=recipe.steps, epochs=recipe.epochs)
    for field in dataclasses.fields(rest):
        if getattr(rest, field.name) != getattr(recipe, field.name) and field.name not in (
            SCHEDULE_FLAGS + EXTRA_SCHEDULE[family]
        ):
            raise ValueError(f"the schedule's {field.name} has no flag")
    return argv + config_flags(rest, recipe)


def evaluation_flags(evaluation: EvalConfig, family: str) -> list[str]:
    if evaluation == EvalConfig():
        return []
    if family == "unpaired":
        raise ValueError("unpaired models are evaluated by `gansuite eval run`, not while training")
    argv = ["--eval-every", str(evaluation.every)] if evaluation.every is not None else []
    argv += ["--eval-samples", str(evaluation.samples)] if evaluation.samples != EvalConfig.samples else []
    return argv + (["--fid-weights", str(evaluation.fid_weights)] if evaluation.fid_weights is not None else [])
