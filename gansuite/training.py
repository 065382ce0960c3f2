"""Training from Python: one run as typed configs (:class:`Training`), and :func:`train`.

    from dataclasses import replace
    from gansuite.training import Training, TranslationData, train
    from translation import pix2pix

    recipe = pix2pix.SPEC.recipe
    train(Training("pix2pix", TranslationData("data/facades", crop_size=128),
                   network=replace(recipe.network, netG="unet_128"), loss=replace(recipe.loss, lambda_l1=50),
                   schedule=replace(recipe.schedule, epochs=0, steps=2000)), out="runs/facades")

A config left None is the method's recipe's: :func:`recipe_for` (``SPEC.recipe`` in its file; a base GAN's
for its data and game); a given one is used as it is, so start from the recipe's and ``replace`` fields.
``gansuite train MODEL`` makes a :class:`Training` of its flags (gansuite/train.py) and calls
:func:`train`; the bundled models' recipes (recipes/bundled.py) are Trainings.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from core_gan.config import config_from_dict, settable
from core_gan.data.digits import digits_dataset, digits_recipes
from core_gan.data.folders import PairedFolder, SRFolder, UnpairedFolder
from core_gan.data.images import ImageFolder
from core_gan.data.stream import steps_per_epoch
from core_gan.data.toy import TOYS, mode_coverage, toy_dataset
from core_gan.data.transforms import PairedTransformConfig, Preprocess
from core_gan.device import select_device
from core_gan.distributed import current_world, distributed_session
from core_gan.errors import UserError
from core_gan.gans import wgan, wgan_gp
from core_gan.gans.cgan import ACGANConfig
from core_gan.gans.gan import GANGame, GANGameConfig, GANObjective, UnrollConfig
from core_gan.hints import HintConfig, HintedPairs, load_with_zero_hints
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
from gansuite.flags import flag_name, refuse_unmet_needs
from gansuite.registry import MODELS, ModelSpec, Parts, build, get_spec, model_for, models_of
from translation.esrgan import RRDBNetConfig

VALIDATION_HINTS = 16
"""Hint points per validation image of a hinted pix2pix (the evaluation protocol of core_gan.hints)."""


@dataclass(frozen=True)
class Game:
    """A base-GAN loss that is a game of its own (the others: core_gan/gans/gan.py): its config, the game
    made from it, the flag group of its settings, and its paper's recipe (whose optimiser it trains with)."""

    config: type
    game: Callable[[Any], GANGame]
    flags: str
    recipe: Recipe


GAMES = {
    "wgan": Game(wgan.WGANConfig, wgan.WGANGame, "wgan", wgan.RECIPE),
    "wgan-gp": Game(wgan_gp.WGANGPConfig, wgan_gp.WGANGPGame, "wgan_gp", wgan_gp.RECIPE),
}
Direction = Literal["AtoB", "BtoA"]


# ---------------------------------------------------------------------------------------------
# A run, in typed configs


@dataclass(frozen=True)
class GANData:
    """A base GAN's data: ``ring8``, ``grid25``, ``digits`` or an image folder (classes: its first-level
    sub-folders). Images are generated at ``image_size`` (None: 32) with ``channels`` (folders; None: 3)."""

    source: str
    image_size: int | None = None
    channels: int | None = None
    strict: bool = False
    """Stop at the first unreadable image instead of skipping it."""


@dataclass(frozen=True)
class TranslationData:
    """Paired (``root/{train,val}``) or unpaired (``root/trainA``, ``root/trainB``) images, loaded at
    ``load_size`` (None: crop x 286/256) and cropped to ``crop_size`` (None: the U-Net's own size,
    else the recipe's) as the reference code's ``preprocess`` mode (None: resize_and_crop) does.
    ``direction``: paired data, or a one-way unpaired translator (BtoA: trained B -> A); ``serial``
    (unpaired): pair A[i] with B[i] instead of a random B."""

    root: str | Path
    crop_size: int | None = None
    load_size: int | None = None
    preprocess: Preprocess | None = None
    flip: bool = True
    direction: Direction = "AtoB"
    serial: bool = False
    strict: bool = False


@dataclass(frozen=True)
class SRData:
    """High-resolution images (a folder, or ``root/HR`` + ``root/LR_xS``), cut into ``crop_size`` crops
    (None: the recipe's); ``val``: held-out HR images for validation PSNR/SSIM (Y, scale cropped)."""

    root: str | Path
    crop_size: int | None = None
    val: str | Path | None = None
    strict: bool = False


DATA: dict[str, type] = {"base": GANData, "paired": TranslationData, "unpaired": TranslationData, "sr": SRData}


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation during training: every ``every`` steps (0: never; None: every checkpoint when there is
    validation data, else never) on ``samples`` images; ``fid_weights``: the FID Inception weights of a
    base GAN on an image folder."""

    every: int | None = None
    samples: int = 1000
    fid_weights: str | Path | None = None


@dataclass(frozen=True)
class Training:
    """One training run of ``model`` on ``data`` (:class:`GANData`, :class:`TranslationData` or
    :class:`SRData`, as the model's data kind asks).

    ``network``, ``loss``, ``schedule``: the method's configs (None: its recipe's; a base GAN's loss is
    its game: GANGameConfig, wgan.WGANConfig or wgan_gp.WGANGPConfig). With ``init`` (a run or bundled
    model whose generators the run starts from) the networks are that run's: ``network`` may be left
    None, or differ from them only by reading colour hints (a hint-less G gains zero-weighted hint
    channels: see :func:`init_network`). ``runtime``: a TrainConfig of device, precision, seed,
    cadences, ...; its optimisation and evaluation fields come from ``schedule`` and ``evaluation``.
    What only some methods use: ``hints`` (a pix2pix whose G reads colour hints: how they are drawn),
    ``unroll`` and ``acgan`` (base GANs), ``vgg_weights`` (super-resolution's VGG loss)."""

    model: str
    data: GANData | TranslationData | SRData
    network: Any = None
    loss: Any = None
    schedule: Schedule | None = None
    runtime: TrainConfig = field(default_factory=TrainConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    init: str | Path | None = None
    hints: HintConfig | None = None
    unroll: UnrollConfig | None = None
    acgan: ACGANConfig | None = None
    vgg_weights: str | Path | None = None


SET_BY_SCHEDULE = ("steps", "batch_size", "lr_g", "lr_d", "betas", "optimizer", "d_steps", "lr_policy",
                   "decay_steps", "ema", "eval_every", "best_metric")  # fmt: skip
"""TrainConfig's fields that :func:`train_config` fills from the schedule and the evaluation."""
USED_BY = {
    "init": ("paired", "unpaired", "sr"),
    "hints": ("paired",),
    "unroll": ("base",),
    "acgan": ("base",),
    "vgg_weights": ("sr",),
}
"""The families whose runs use each of a Training's optional fields."""


def refuse(flag: str, why: str) -> None:
    raise UserError(f"{flag}: {why}")


def game_name(loss: Any) -> str:
    """The name ``--loss`` gives a base GAN's game config."""
    return next((name for name, g in GAMES.items() if isinstance(loss, g.config)), getattr(loss, "loss", ""))


def recipe_for(spec: ModelSpec, data: str = "", game: str = "") -> Recipe:
    """The model's recipe; a base GAN's is the built-in dataset's own (``digits``) where it has one,
    with the optimiser of the WGAN papers for their games. WGAN-GP's penalty is per sample, so its
    critic has no batch statistic (Gulrajani et al. section 4): no minibatch-stddev feature."""
    if spec.family != "base":
        return spec.recipe
    recipe = digits_recipes().get(spec.name, spec.recipe) if data == "digits" else spec.recipe
    if game not in GAMES:
        return recipe
    paper = GAMES[game].recipe
    s = paper.schedule
    schedule = replace(recipe.schedule, lr=s.lr, betas=s.betas, optimizer=s.optimizer, d_steps=s.d_steps)
    network = replace(recipe.network, minibatch_std=False) if game == "wgan-gp" else recipe.network
    citation = f"{recipe.citation}; the optimiser of {paper.citation}"
    return replace(recipe, citation=citation, schedule=schedule, network=network)


def changed_fields(config: Any, reference: Any) -> list[str]:
    """The settable fields in which ``config`` differs from ``reference``."""
    return [f.name for f in settable(type(config)) if getattr(config, f.name) != getattr(reference, f.name)]


def check_training(spec: ModelSpec, training: Training, recipe: Recipe) -> None:
    """Each part of ``training`` is of the kind the model uses; a setting changed from the recipe
    that means nothing with the others (its field's ``needs``) is refused, as its flag would be."""
    if not isinstance(training.data, DATA[spec.family]):
        refuse("data", f"{spec.name} trains on {DATA[spec.family].__name__}, not {type(training.data).__name__}")
    for name, families in USED_BY.items():
        if getattr(training, name) is not None and spec.family not in families:
            refuse(name, f"{spec.name} does not use it")
    if training.evaluation.fid_weights is not None and spec.family != "base":
        refuse("--fid-weights", f"{spec.name} is not evaluated with FID while training")
    scheduled = [name for name in SET_BY_SCHEDULE if getattr(training.runtime, name) != getattr(TrainConfig(), name)]
    if scheduled:
        refuse(f"runtime.{scheduled[0]}", "comes from the schedule and the evaluation: set it there")
    for part, reference in (("network", recipe.network), ("loss", recipe.loss)):
        config = getattr(training, part)
        if config is None or (training.init is not None and part == "network"):
            continue
        if part == "loss":
            kinds = LOSS_KINDS if spec.family == "base" else (type(reference),)
        else:
            kinds = network_kinds(spec, reference)
        if not isinstance(config, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            refuse(part, f"{spec.name}'s {part} is a {names}, not a {type(config).__name__}")
        if type(config) is type(reference):
            refuse_unmet_needs(config, changed_fields(config, reference))


LOSS_KINDS = (GANGameConfig, *(g.config for g in GAMES.values()))


def network_kinds(spec: ModelSpec, reference: Any) -> tuple[type, ...]:
    """What a model's network may be: its own; the PSNR stage of super-resolution also trains
    ESRGAN's RRDBNet (saved as an esrgan model)."""
    if spec.family == "sr" and not spec.starts_from:
        return (type(reference), RRDBNetConfig)
    return (type(reference),)


def from_init(given: Any, init_config: Any, init: str | Path) -> Any:
    """The ``init`` run's network config; a ``given`` one may differ from it only by reading colour
    hints (a hint-less G gains zero-weighted hint channels)."""
    if given is None:
        return init_config
    if type(given) is not type(init_config):
        refuse("network", f"the networks come from the --init run {init} (a {type(init_config).__name__})")
    changed = [name for name in changed_fields(given, init_config) if name != "hints"]
    if changed:
        refuse(flag_name(changed[0]), f"the networks come from the --init run {init}")
    hints = getattr(given, "hints", False)
    if hints == getattr(init_config, "hints", False):
        return init_config
    if not hints:
        refuse("--no-hints", f"the --init run {init} reads colour hints")
    return replace(init_config, hints=True)


# ---------------------------------------------------------------------------------------------
# Configs -> the trainer


@dataclass
class Setup:
    """What the trainer needs for one run, as a family builder assembles it from the configs."""

    objective: Objective
    dataset: Dataset
    model_meta: dict[str, Any]
    settings: dict[str, Any]
    evaluator: Evaluator | None = None
    best_metric: str = ""
    preview_reference: torch.Tensor | None = None
    has_validation: bool = False
    """Validation data is at hand: ``evaluation.every`` defaults to every checkpoint."""
    no_evaluation: str = "no validation data"
    """Why ``--eval-every`` has nothing to evaluate, for its error message."""


def train(training: Training, out: str | Path, *, resume: bool = False) -> Path:
    """Train ``training`` into the run directory ``out`` (``resume``: continue its last checkpoint to
    the same total); returns ``out``. Under ``torchrun``, one process per device (DDP). Bad settings
    raise core_gan.errors.UserError, naming the flag."""
    spec = get_spec(training.model)
    game = game_name(training.loss or spec.recipe.loss) if spec.family == "base" else ""
    source = getattr(training.data, "source", "")
    recipe = recipe_for(spec, source, game)
    check_training(spec, training, recipe)
    schedule = training.schedule or recipe.schedule
    with distributed_session(training.runtime.device):
        torch.manual_seed(training.runtime.seed)
        setup = BUILDERS[spec.family](spec, recipe, schedule, training)
        config = train_config(schedule, training, setup)
        data = data_path(training.data)
        trainer = Trainer(
            setup.objective, setup.dataset, Path(out), config, model_meta=setup.model_meta,
            settings={**setup.settings, "data": data, "recipe": recipe.citation},
            preview_reference=setup.preview_reference, evaluator=setup.evaluator,
        )  # fmt: skip
        return trainer.fit(resume=resume)


def data_path(data: GANData | TranslationData | SRData) -> str:
    """What a run reads: a built-in dataset's name or a folder."""
    return data.source if isinstance(data, GANData) else str(data.root)


def train_config(schedule: Schedule, training: Training, setup: Setup) -> TrainConfig:
    """The trainer's config: the schedule's optimisation (epochs counted in steps of this data), the
    runtime settings, and the evaluation cadence."""
    if schedule.epochs:
        per_epoch = steps_per_epoch(setup.dataset, schedule.batch_size, current_world().size)
        steps = max(1, schedule.epochs * per_epoch // schedule.d_steps)
    else:
        steps = schedule.steps
    decay = schedule.decay_steps if schedule.decay_steps is not None else round(steps * schedule.decay_fraction)
    if schedule.lr_policy == "step" and decay == 0:
        refuse("--lr-policy step", "needs --decay-steps N (the rate is multiplied by 0.1 every N steps)")
    eval_every = training.evaluation.every
    if setup.evaluator is None and eval_every:
        refuse("--eval-every", f"there is nothing to evaluate ({setup.no_evaluation})")
    if eval_every is None:
        eval_every = training.runtime.checkpoint_every if setup.has_validation else 0
    return replace(
        training.runtime, steps=steps, batch_size=schedule.batch_size, lr_g=schedule.lr,
        lr_d=schedule.lr_d or schedule.lr, betas=schedule.betas, optimizer=schedule.optimizer,
        d_steps=schedule.d_steps, lr_policy=schedule.lr_policy, decay_steps=decay, ema=schedule.ema,
        eval_every=eval_every, best_metric=setup.best_metric if eval_every else "",
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


def make_game(config: Any) -> tuple[GANGame, dict[str, Any]]:
    """The game of a base GAN's loss config, and its settings for config.json."""
    for g in GAMES.values():
        if isinstance(config, g.config):
            return g.game(config), asdict(config)
    settings = {k: v for k, v in asdict(config).items() if k != "mode_seeking" or v}  # the configs of older runs
    return GANGame(config.loss, config.r1, config.mode_seeking), settings


def base_network(spec: ModelSpec, net: Any, source: str, game: str, data: BaseData) -> Any:
    """The network config with the data's shape and classes."""
    if not isinstance(net, DCGANConfig):  # an MLP: any data shape
        return replace(net, data_shape=data.shape)
    if len(data.shape) != 3:
        refuse(f"--data {source}", f"{spec.name} needs images; for 2-D points use `gansuite train gan`")
    if data.shape[1] not in DCGAN_SIZES:
        refuse(f"--image-size {data.shape[1]}", f"{spec.name} generates {', '.join(map(str, DCGAN_SIZES))} px")
    conditional = spec.data == "class-conditional"
    if conditional and data.num_classes < 2:
        refuse(f"--data {source}", f"{spec.name} needs classes (images in one sub-folder per class)")
    return replace(
        net, image_size=data.shape[1], channels=data.shape[0], d_norm=norm_for_loss(game),
        num_classes=data.num_classes if conditional else 0,
    )  # fmt: skip


def build_base(spec: ModelSpec, recipe: Recipe, schedule: Schedule, training: Training) -> Setup:
    """gan, dcgan or cgan on a toy, the digits or an image folder."""
    d: GANData = training.data  # type: ignore[assignment]
    toy = d.source in TOYS
    for flag, value in (("--image-size", d.image_size), ("--channels", d.channels)):
        if toy and value is not None:
            refuse(flag, f"{d.source} is 2-D points, not images")
    if d.source == "digits" and d.channels is not None:
        refuse("--channels", "digits are grey images (1 channel)")
    if training.evaluation.fid_weights is not None and (toy or d.source == "digits"):
        refuse("--fid-weights", f"{d.source} is evaluated without Inception")
    data = load_base_data(d.source, d.image_size or 32, d.channels or 3, d.strict)
    loss = training.loss or recipe.loss
    net = base_network(spec, training.network or recipe.network, d.source, game_name(loss), data)
    generators, discriminators = build(spec.name, net)
    game, game_settings = make_game(loss)
    unroll = training.unroll or UnrollConfig()
    if current_world().size > 1 and (unroll.unroll or getattr(net, "conditioning", "") == "acgan"):
        flag = "--unroll" if unroll.unroll else "--conditioning acgan"
        refuse(flag, "is single-process only (it calls D outside DistributedDataParallel)")
    acgan = (training.acgan or ACGANConfig()) if spec.data == "class-conditional" else None
    if training.acgan is not None and getattr(net, "conditioning", "") != "acgan":
        refuse("--acgan-weight", "only --conditioning acgan uses it")
    extras = {"game": game, "unroll": unroll, "acgan": acgan}
    objective: GANObjective = spec.objective(Parts(dict(generators), dict(discriminators), extras=extras))
    settings = {"objective": {"loss": game_name(loss), **game_settings, **asdict(unroll)}}
    return Setup(
        objective, data.dataset, {"model": spec.name, "config": asdict(net)}, settings,
        evaluator=base_evaluator(training, data, objective), preview_reference=data.reference,
    )  # fmt: skip


def base_evaluator(training: Training, data: BaseData, objective: GANObjective) -> Evaluator | None:
    """What evaluation reports: mode coverage on 2-D toys, Fréchet distance and KID in a digit
    classifier's feature space on ``digits``, FID and KID (Inception) on image folders."""
    evaluation, source = training.evaluation, training.data.source  # type: ignore[union-attr]
    if not evaluation.every:
        return None
    seed = training.runtime.seed + 1
    if source in TOYS:

        def coverage(generators: nn.ModuleDict) -> dict[str, float]:
            modes, quality = mode_coverage(objective.preview(generators, 2000, seed).cpu(), source)
            return {"modes": modes, "high_quality": quality}

        return coverage
    n = min(evaluation.samples, len(data.dataset))
    real = torch.stack([data.dataset[i][0] for i in range(n)])
    if source == "digits":
        classifier, accuracy = train_classifier()
        print(f"digit classifier for --eval-every: held-out accuracy {accuracy:.1%}")
        distance = SampleDistance(DigitFeatures(classifier), real, n)
    else:
        device = select_device(training.runtime.device)
        fid_weights = Path(evaluation.fid_weights) if evaluation.fid_weights is not None else None
        distance = SampleDistance(InceptionExtractor(fid_weights, device), real, n)
    return lambda generators: distance(lambda k: objective.preview(generators, k, seed))


# ---------------------------------------------------------------------------------------------
# pix2pix, CycleGAN, CUT


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


def paired_transform(data: TranslationData, netG: str, recipe: Recipe) -> PairedTransformConfig:
    """``crop_size`` (else the U-Net's own size: unet_256 -> 256, else the recipe's), loaded at
    ``load_size`` (else crop x 286/256)."""
    crop = data.crop_size or (int(netG.removeprefix("unet_")) if netG.startswith("unet_") else recipe.crop_size)
    load = data.load_size or round(crop * 286 / 256)
    return PairedTransformConfig(data.preprocess or "resize_and_crop", load, crop, data.flip)


def preview_batch(dataset: Dataset, n: int) -> tuple[torch.Tensor, ...]:
    """The first ``n`` items of ``dataset``, stacked (the fixed inputs of the sample grids)."""
    items = [dataset[i] for i in range(min(n, len(dataset)))]  # type: ignore[arg-type]
    return tuple(torch.stack(t) for t in zip(*items, strict=True))


def init_network(model: str, init: str | Path) -> Any:
    """The network config of the ``init`` run (or bundled model) of ``model``, read from its model.json:
    ``replace(init_network("pix2pix", run), hints=True)`` is the network that adds colour hints to it."""
    from gansuite.runs import resolve_run

    return network_of(get_spec(model), json.loads((resolve_run(init) / "model.json").read_text()))


def network_of(spec: ModelSpec, meta: dict[str, Any]) -> Any:
    """The network config a run's model.json describes."""
    return config_from_dict(type(spec.recipe.network), meta["config"])


def translation_network(spec: ModelSpec, recipe: Recipe, training: Training) -> tuple[Any, nn.ModuleDict | None]:
    """The given (else the recipe's) network, or the ``init`` run's with its generators."""
    if training.init is None:
        return training.network or recipe.network, None
    from gansuite.runs import load_run, resolve_run

    meta, generators = load_run(resolve_run(training.init), (spec.name,))
    return from_init(training.network, network_of(spec, meta), training.init), generators


def translation_networks(spec: ModelSpec, training: Training, net: Any, init: nn.ModuleDict | None,
                         **channels: int) -> Any:  # fmt: skip
    """The config, generators and discriminators for data of ``channels``; the generators hold the
    ``init`` run's weights when there is one."""
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
            raise UserError(f"--init {training.init}: its generators do not fit this data ({reason})") from e
    return net, generators, discriminators


def build_paired(spec: ModelSpec, recipe: Recipe, schedule: Schedule, training: Training) -> Setup:
    """pix2pix on DATA/train, validated on DATA/val when there is one."""
    d: TranslationData = training.data  # type: ignore[assignment]
    if d.serial:
        refuse("--serial", f"{spec.name} trains on pairs")
    seed = training.runtime.seed
    network, init = translation_network(spec, recipe, training)
    transform = paired_transform(d, network.netG, recipe)
    data: Dataset = PairedFolder(d.root, "train", d.direction, transform, seed=seed, strict=d.strict)
    root = Path(d.root)
    has_val = (root / "val").is_dir() or (root / "A" / "val").is_dir()
    val = PairedFolder(root, "val", d.direction, transform, train=False, strict=d.strict) if has_val else None
    channels = {"input_nc": data[0][0].shape[0], "output_nc": data[0][1].shape[0]}
    hint_config = training.hints or HintConfig()
    if network.hints:
        data = HintedPairs(data, hint_config)
        val = HintedPairs(val, hint_config, eval_count=VALIDATION_HINTS) if val is not None else None
    elif training.hints is not None:
        changed = [flag_name(name) for name in changed_fields(training.hints, HintConfig())] or ["hints"]
        refuse(changed[0], "sets how colour hints are drawn, and G reads none: add --hints (network.hints)")
    preview = preview_batch(val if val is not None else data, 4)
    net, generators, discriminators = translation_networks(spec, training, network, init, **channels)
    check_crop(transform.crop_size, schedule.batch_size, net.netG, nn.ModuleDict({**generators, **discriminators}))
    loss = training.loss or recipe.loss
    parts = Parts(dict(generators), dict(discriminators), loss, preview, seed, condition_channels=net.input_nc)
    objective = spec.objective(parts)
    every = training.evaluation.every
    evaluator = paired_validation(val, training.evaluation.samples) if val is not None and every != 0 else None
    hint_settings = {"hints": asdict(hint_config), "validation_hints": VALIDATION_HINTS} if net.hints else {}
    return Setup(
        objective, data, {"model": spec.name, "config": asdict(net), "direction": d.direction},
        {"objective": asdict(loss), "transform": asdict(transform), "init": str(training.init or ""), **hint_settings},
        evaluator=evaluator, best_metric=recipe.best_metric,
        has_validation=val is not None, no_evaluation=f"{d.root} has no val split",
    )  # fmt: skip


def build_unpaired(spec: ModelSpec, recipe: Recipe, schedule: Schedule, training: Training) -> Setup:
    """CycleGAN, CUT, ... on DATA/trainA and DATA/trainB; the sample grids show DATA/testA/B when present."""
    d: TranslationData = training.data  # type: ignore[assignment]
    one_way = len(spec.exports) == 1
    if d.direction != "AtoB" and not one_way:
        refuse(f"--direction {d.direction}", f"{spec.name} trains both directions")
    seed = training.runtime.seed
    network, init = translation_network(spec, recipe, training)
    transform = paired_transform(d, network.netG, recipe)
    data = UnpairedFolder(d.root, "train", transform, serial=d.serial, seed=seed, strict=d.strict,
                          direction=d.direction)  # fmt: skip
    root = Path(d.root)
    has_test = (root / "testA").is_dir() and (root / "testB").is_dir()
    test = UnpairedFolder(root, "test", transform, train=False, direction=d.direction) if has_test else data
    preview = preview_batch(test, 2)
    channels = {"a_nc": preview[0].shape[1], "b_nc": preview[1].shape[1]}
    net, generators, discriminators = translation_networks(spec, training, network, init, **channels)
    check_crop(transform.crop_size, schedule.batch_size, net.netG, nn.ModuleDict({**generators, **discriminators}))
    loss = training.loss or recipe.loss
    objective = spec.objective(Parts(dict(generators), dict(discriminators), loss, preview, seed))
    direction = {"direction": d.direction} if one_way else {}
    return Setup(
        objective, data, {"model": spec.name, "config": asdict(net), **direction},
        {"objective": asdict(loss), "transform": asdict(transform), "init": str(training.init or "")},
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Super-resolution


def sr_network(spec: ModelSpec, recipe: Recipe, training: Training, init: dict[str, Any] | None) -> Any:
    """The network of the ``init`` run, else the given (or the recipe's) one."""
    if init is None:
        net = training.network or recipe.network
        if isinstance(net, RRDBNetConfig) and net.scale != 4:
            refuse(f"--scale {net.scale}", "--arch rrdb is x4")
        return net
    cls = MODELS[init["model"]].config_cls
    if spec.starts_from and cls is not spec.config_cls:  # a GAN stage trains the network it starts from
        trains = [name for name, s in MODELS.items() if s.starts_from and s.config_cls is cls]
        refuse(
            f"--init {training.init}",
            f"is a {init['model']} run ({cls.__name__}); {spec.name} trains a "
            f"{spec.config_cls.__name__}" + (f": use `gansuite train {trains[0]}`" if trains else ""),
        )
    return from_init(training.network, config_from_dict(cls, init["config"]), training.init)  # type: ignore[arg-type]


def build_sr(spec: ModelSpec, recipe: Recipe, schedule: Schedule, training: Training) -> Setup:
    """SRResNet (pixel loss, best checkpoint by validation PSNR), SRGAN (content + 1e-3 adversarial,
    from ``init``) or ESRGAN (L1 + pre-activation VGG + relativistic D, from ``init``)."""
    from gansuite.runs import load_run

    d: SRData = training.data  # type: ignore[assignment]
    seed, init = training.runtime.seed, training.init
    init_meta, init_generators = load_run(init, models_of("sr")) if init else (None, None)
    if spec.starts_from and init is None:
        warnings.warn(f"training {spec.name} from scratch; the paper starts from {spec.starts_from}", stacklevel=2)
    net = sr_network(spec, recipe, training, init_meta)
    crop = d.crop_size or recipe.crop_size
    data = SRFolder(d.root, net.scale, crop, seed=seed, strict=d.strict, min_length=schedule.batch_size)
    val = SRFolder(d.val, net.scale, train=False, strict=d.strict) if d.val else None
    preview = preview_batch(SRFolder(d.val or d.root, net.scale, crop, seed=seed), 4)
    model = model_for(net, spec)
    generators, discriminators = build(model, net)
    if init_generators is not None:
        generators.load_state_dict(init_generators.state_dict())
    loss = training.loss or recipe.loss
    device = select_device(training.runtime.device)
    extras = {"vgg_weights": Path(training.vgg_weights)} if training.vgg_weights is not None else {}
    parts = Parts(dict(generators), dict(discriminators), loss, preview, seed, device, extras=extras)
    objective = spec.objective(parts)
    evaluator = None
    if val is not None and training.evaluation.every != 0:
        evaluator = paired_validation(val, training.evaluation.samples, crop_border=net.scale, y_channel=True)
    return Setup(
        objective, data, {"model": model, "config": asdict(net)},
        {"objective": asdict(loss), "crop": crop, "init": str(init or "")}, evaluator=evaluator,
        best_metric=recipe.best_metric,
        has_validation=val is not None, no_evaluation="no --val-data",
    )  # fmt: skip


BUILDERS: dict[str, Callable[[ModelSpec, Recipe, Schedule, Training], Setup]] = {
    "base": build_base, "paired": build_paired, "unpaired": build_unpaired, "sr": build_sr,
}  # fmt: skip
