"""One function per CLI verb; each takes the parsed arguments and raises UserError on bad input."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core_gan.checkpoint import atomic_write
from core_gan.errors import UserError
from core_gan.outputs import check_folder, check_outputs, files_in
from gansuite.registry import MODELS


def train(args: argparse.Namespace) -> None:
    """Any model, in one process or, under ``torchrun``, in one process per device (DDP)."""
    from core_gan.distributed import distributed_session
    from gansuite.train import runtime
    from gansuite.train import train as train_model

    with distributed_session(runtime(args).device) as world:
        run_dir = train_model(args)
    if world.is_main:
        print(f"done: {run_dir}")


def _sample_files(samples: torch.Tensor, out: Path) -> list[Path]:
    """The files :func:`_write_samples` writes."""
    if out.suffix in (".npy", ".png"):
        return [out]
    check_folder(out)
    return [out / "points.png"] if samples.dim() == 2 else [out / f"{i:05d}.png" for i in range(len(samples))]


def _write_samples(samples: torch.Tensor, out: Path, overwrite: bool, nrow: int = 8) -> None:
    """points.npy for 2-D points, a PNG grid for ``*.png``, else a folder of one PNG per sample; an
    existing file is replaced only with ``overwrite``."""
    check_outputs(_sample_files(samples, out), overwrite=overwrite)
    if out.suffix == ".npy":
        if samples.dim() != 2:
            raise UserError(f"--out {out}: .npy is for 2-D point models; use grid.png or a folder")

        def write_npy(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a path would get ".npy" appended by numpy
                np.save(f, samples.numpy())

        atomic_write(out, write_npy)
        return
    from core_gan.plots import save_grid, save_scatter  # matplotlib and torchvision: only the commands that plot

    if samples.dim() == 2:
        save_scatter(samples, out if out.suffix == ".png" else out / "points.png")
        return
    if out.suffix == ".png":
        save_grid(samples, out, nrow=nrow)
        return
    from core_gan.pixels import to_uint8

    for i, image in enumerate(to_uint8(samples)):
        atomic_write(out / f"{i:05d}.png", lambda tmp, im=image: Image.fromarray(im).save(tmp, format="PNG"))


def sample(args: argparse.Namespace) -> None:
    from gansuite.inference import BaseGANModel

    model = BaseGANModel(args.run, args.device)
    if args.label == "all":
        samples = model.class_grid(args.n, args.seed)
        _write_samples(samples, args.out, args.overwrite, nrow=model.num_classes)
    else:
        label = _parse_label(args.label)
        _write_samples(model.sample(args.n, args.seed, label), args.out, args.overwrite)
    print(f"wrote {args.out}")


def _parse_label(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError as e:
        raise UserError(f"--label {text}: expected a class index or 'all'") from e


def interpolate(args: argparse.Namespace) -> None:
    from gansuite.inference import BaseGANModel

    model = BaseGANModel(args.run, args.device)
    strip = model.interpolate(args.seed_a, args.seed_b, args.steps, args.slerp, args.label)
    _write_samples(strip, args.out, args.overwrite, nrow=args.steps)
    print(f"wrote {args.out}")


def arithmetic(args: argparse.Namespace) -> None:
    from gansuite.inference import BaseGANModel

    model = BaseGANModel(args.run, args.device)
    _write_samples(model.arithmetic(args.a, args.b, args.c, args.label), args.out, args.overwrite, nrow=4)
    print(f"wrote {args.out}: mean A | mean B | mean C | A - B + C")


def models(args: argparse.Namespace) -> None:
    from gansuite.runs import bundled_models, imported_runs, run_model
    from gansuite.weights import PRETRAINED
    from gansuite.zoo import ZOO, network_config

    print("trainable (gansuite train MODEL):")
    for name, spec in MODELS.items():
        print(f"  {name:14s} {spec.description}")
    print("bundled (use the NAME wherever a RUN is expected):")
    for model in bundled_models().values():
        print(f"  {model.name:14s} {model.model:9s} {model.description}")
    imported = imported_runs()
    print("importable (gansuite weights import NAME [--from FILE]; * = imported):")
    for name, entry in PRETRAINED.items():
        print(f"  {'*' if name in imported else ' '} {name:32s} esrgan    RRDBNet, {entry.config.blocks} blocks, x4")
    for name, zoo in ZOO.items():
        config = network_config(zoo.method)
        network = f"{config.netG}, {config.norm} norm{', dropout' if config.dropout else ''}"
        flag = "*" if name in imported else " "
        print(f"  {flag} {name:32s} {zoo.method:9s} {network:30s} {zoo.domains[0]} -> {zoo.domains[1]}")
    print("  sr --from FILE: any .pth/.pt/.ckpt/.safetensors super-resolution model spandrel recognises")
    print("imported (use the NAME wherever a RUN is expected):")
    for name, path in imported.items():
        print(f"  {name:32s} {run_model(path) or '?':9s} {path}")


def eval(args: argparse.Namespace) -> None:
    from gansuite.evaluate import run

    needs_two = args.metric not in ("is", "run")
    if needs_two and args.b is None:
        raise UserError(f"eval {args.metric}: needs two arguments (got only {args.a})")
    if not needs_two and args.b is not None:
        raise UserError(f"eval {args.metric}: takes one argument (got {args.a} and {args.b})")
    run(args)


def data(args: argparse.Namespace) -> None:
    from core_gan.data import builders, catalog

    if args.data_command == "edges":
        config = builders.EdgeConfig(args.size, args.low, args.high, sigma=args.sigma, dilate=args.dilate,
                                     min_fragment=args.min_fragment)  # fmt: skip
        written = builders.build_edges(args.src, args.dst, config, args.overwrite)
        print(f"wrote {written} pairs (A = edges, B = photo) to {args.dst}")
    elif args.data_command == "combine":
        print(f"wrote {builders.combine(args.a, args.b, args.dst, args.overwrite)} pairs to {args.dst}")
    elif args.data_command == "sr-crops":
        print(f"wrote {builders.sr_crops(args.src, args.dst, args.size, args.step)} sub-images to {args.dst}")
    elif args.data_command == "download":
        catalog.download_dataset(args.name, args.dest)
        print(f"{args.name} is in {args.dest}")
    else:
        for entry in catalog.load_catalog().values():
            built = entry.source.startswith("debian:")
            where = (
                "built from Debian packages (apt-get download)" if built else entry.url or f"manual: {entry.licence}"
            )
            print(f"{entry.name:24s} {entry.task:9s} {entry.size or '?':>12s}  {where}")


def _input_files(inputs: list[Path]) -> list[Path]:
    from core_gan.data.images import list_images

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += list_images(item)
        elif item.is_file():
            files.append(item)
        else:
            raise UserError(f"{item}: no such file or folder")
    return files


def _write_index(out: Path, rows: list[list[str]], header: list[str]) -> None:
    from html import escape

    cells = "\n".join(
        "<tr>" + "".join(f'<td><img src="{escape(c)}" width="256"><br>{escape(c)}</td>' for c in row) + "</tr>"
        for row in rows
    )
    head = "".join(f"<th>{h}</th>" for h in header)
    html = (
        f"<!doctype html><meta charset=utf-8><title>gansuite translate</title><table><tr>{head}</tr>{cells}</table>\n"
    )
    atomic_write(out / "index.html", lambda tmp: tmp.write_text(html))


def _hint_files(hints: Path, files: list[Path], paired: bool) -> dict[Path, np.ndarray]:
    """Input -> its colour hints as RGBA at the input's size (its A half with ``paired``), all read and
    checked before anything is written: ``hints`` itself for a single input, else the file of a folder
    with the input's stem. A hints file that matches no input, or two inputs it could match, is an error."""
    from core_gan.data.images import hints_array, list_images, open_hints, open_image

    if hints.is_file():
        if len(files) != 1:
            raise UserError(f"--hints {hints}: one hints file for {len(files)} inputs; give a folder of them named "
                            "by the inputs' stems")  # fmt: skip
        matched = {files[0]: hints}
    elif hints.is_dir():
        by_stem: dict[str, Path] = {}
        for path in files:
            if path.stem in by_stem:
                raise UserError(f"--hints: inputs {by_stem[path.stem]} and {path} share a stem; hints could match both")
            by_stem[path.stem] = path
        matched = {}
        for path in list_images(hints):
            if path.stem not in by_stem:
                raise UserError(f"--hints: {path} matches no input (hints are matched to inputs by file stem)")
            matched[by_stem[path.stem]] = path
    else:
        raise UserError(f"--hints {hints}: no such file or folder")
    arrays = {}
    for path, hints_path in matched.items():
        width, height = open_image(path).size
        arrays[path] = hints_array(open_hints(hints_path), width // 2 if paired else width, height, str(hints_path))
    return arrays


def _translate_names(i: int, path: Path, paired: bool) -> list[str]:
    """The files ``translate`` writes for input ``i``: input, output (and target with ``paired``)."""
    stem = f"{i:05d}_{path.stem}"
    return [f"{stem}_{kind}.png" for kind in ("input", "output", "target")[: 3 if paired else 2]]


def translate(args: argparse.Namespace) -> None:
    import warnings

    from tqdm import tqdm

    from core_gan.data.folders import SIDE_BY_SIDE
    from core_gan.data.images import open_image
    from gansuite.inference import Translator

    files = _input_files(args.inputs)  # before the model, whose first start on a machine is timed
    check_folder(args.out)
    names = [_translate_names(i, path, args.paired) for i, path in enumerate(files)]
    outputs = [args.out / name for row in names for name in row] + [args.out / "index.html"]
    check_outputs(outputs, files, args.overwrite)
    hint_files = _hint_files(args.hints, files, args.paired) if args.hints else {}
    model = Translator(args.run, args.device, args.paper_test_mode, args.direction, args.backend)
    if args.hints and not model.hints:
        raise UserError(f"--hints: {args.run} was trained without colour hints (train with `--hints` to use them)")
    args.out.mkdir(parents=True, exist_ok=True)
    for path, row in zip(tqdm(files, desc="translate", unit="img"), names, strict=True):
        image = np.asarray(open_image(path))
        images = [image]
        if not args.paired and model.paired and image.shape[1] >= SIDE_BY_SIDE * image.shape[0]:
            warnings.warn(f"{path}: {image.shape[1]}x{image.shape[0]} looks like an A|B pair; translated whole "
                          "(--paired: its input half, the other shown as target)", stacklevel=1)  # fmt: skip
        if args.paired:
            half = image.shape[1] // 2
            a, b = image[:, :half], image[:, half : 2 * half]
            images = [a, b] if model.direction == "AtoB" else [b, a]
        hints = hint_files.get(path)
        images.insert(1, model(images[0], hints))
        for name, result in zip(row, images, strict=True):
            atomic_write(args.out / name, lambda tmp, r=result: Image.fromarray(r).save(tmp, format="PNG"))
    _write_index(args.out, names, ["input", "output", "target"][: len(names[0])])
    print(f"wrote {len(names)} results and index.html to {args.out}")


def upscale(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from core_gan.data.images import open_image
    from gansuite.inference import Upscaler

    if args.tile and args.tile_overlap >= args.tile:
        raise UserError(f"--tile-overlap {args.tile_overlap}: must be smaller than --tile {args.tile}")
    files = _input_files(args.inputs)  # before the model, whose first start on a machine is timed
    stems = [p.stem for p in files]
    clash = next((p for p, s in zip(files, stems, strict=True) if stems.count(s) > 1), None)
    if clash is not None:
        raise UserError(f"{clash}: another input has the same name; outputs would overwrite each other")
    check_folder(args.out)
    check_outputs([args.out / f"{stem}.png" for stem in stems], files, args.overwrite)
    model = Upscaler(args.run, args.device, args.scale, args.backend)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(files, desc="upscale", unit="img"):
        image = np.asarray(open_image(path, channels=0, keep_alpha=True))
        with tqdm(desc=path.name, unit="tile", leave=False) as bar:

            def advance(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = model(image, args.tile, args.tile_overlap, advance)
        atomic_write(args.out / f"{path.stem}.png", lambda tmp, r=result: Image.fromarray(r).save(tmp, format="PNG"))
    print(f"wrote {len(files)} x{model.scale} images to {args.out}")


def app(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # works offline, phones nowhere
    from apps.common import load_models
    from apps.hub import APPS, build_hub, launch
    from core_gan.device import select_device

    device = select_device(args.device).type
    names = tuple(APPS) if args.name == "all" else (args.name,)
    models = load_models(args.checkpoint, device, bundled=not args.no_bundled)
    print(f"starting {', '.join(names)} on http://{args.host}:{args.port} ({device}); Ctrl+C stops")
    launch(build_hub(models, names), args.host, args.port, device)


def demo(args: argparse.Namespace) -> None:
    args.name, args.checkpoint, args.no_bundled = "all", [], False
    app(args)


def weights(args: argparse.Namespace) -> None:
    from gansuite.weights import import_weights

    out = import_weights(args.name, args.out, args.source, args.overwrite)
    print(f"wrote {out} (model.safetensors, model.json, LICENSE); use it as RUN or by the name {args.name}")


def export(args: argparse.Namespace) -> None:
    """Write the generator in ``--format``; an ONNX file is checked against PyTorch when onnxruntime is here."""
    import importlib.util

    from gansuite.export import EXPORTERS, load_export_target, onnx_max_abs_diff
    from gansuite.runs import resolve_run

    run = resolve_run(args.run)
    check_outputs([args.out], files_in(run), args.overwrite)
    target = load_export_target(args.run, args.direction)
    EXPORTERS[args.format](target, args.out)
    print(f"wrote {args.out} ({target.meta['model']} {target.name}, inputs: {', '.join(target.input_names)})")
    if args.format == "onnx" and importlib.util.find_spec("onnxruntime") is not None:
        diff = onnx_max_abs_diff(args.out, target)
        print(f"onnxruntime vs PyTorch on two input sizes: max abs diff {diff:.2e}")
        if diff > 1e-3:
            raise UserError(f"{args.out}: onnxruntime differs from PyTorch by {diff:.3g} (> 1e-3); do not use it")


def diagnose(args: argparse.Namespace) -> None:
    from gansuite.diagnose import run_diagnosis

    run_diagnosis(args)
