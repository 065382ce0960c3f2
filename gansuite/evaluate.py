"""``gansuite eval``: FID, KID, IS between folders (or saved statistics), PSNR/SSIM between paired folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core_gan.data.images import list_images, open_image
from core_gan.device import select_device
from core_gan.errors import UserError
from core_gan.metrics.evaluators import paired_scores
from core_gan.metrics.features import InceptionExtractor, folder_features
from core_gan.metrics.image_quality import SSIM_WINDOW, psnr, ssim
from core_gan.metrics.statistics import (
    FeatureStats,
    distribution_distances,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    load_stats,
    save_stats,
    warn_small_sample,
)
from core_gan.pixels import from_uint8, to_uint8


def _report(metric: str, value: float, protocol: dict[str, Any], as_json: bool, std: float | None = None) -> None:
    if as_json:
        row = {metric: value, **({f"{metric}_std": std} if std is not None else {}), **protocol}
        print(json.dumps(row))
        return
    shown = f"{value:.6g}" if std is None else f"{value:.6g} ± {std:.3g}"
    print(f"{metric.upper()}: {shown}   ({', '.join(f'{k}={v}' for k, v in protocol.items())})")


def _extractor(args: argparse.Namespace) -> InceptionExtractor:
    return InceptionExtractor(args.weights, select_device(args.device), args.resize)


def _stats_of(source: Path, args: argparse.Namespace, extractor: InceptionExtractor | None):
    """(mu, sigma, n) of a folder (via the extractor) or of a saved ``.npz``."""
    if source.suffix == ".npz":
        mu, sigma = load_stats(source)
        return mu, sigma, "npz"
    assert extractor is not None
    feats = folder_features(source, extractor, args.batch_size, args.num_workers).features
    stats = FeatureStats.empty(feats.shape[1])
    stats.update(feats)
    return stats.mu, stats.sigma, stats.n


def fid(args: argparse.Namespace) -> None:
    sources = [Path(args.a), Path(args.b)]
    extractor = None if all(s.suffix == ".npz" for s in sources) else _extractor(args)
    (mu_a, sig_a, n_a), (mu_b, sig_b, n_b) = (_stats_of(s, args, extractor) for s in sources)
    if args.save_stats:
        if sources[0].suffix == ".npz":
            raise UserError("--save-stats saves the first folder's statistics; the first argument is an .npz")
        save_stats(args.save_stats, mu_a, sig_a)
    for n in (n_a, n_b):
        if isinstance(n, int):
            warn_small_sample(n)
    value = frechet_distance(mu_a, sig_a, mu_b, sig_b)
    _report("fid", value, _protocol(args, n_a=n_a, n_b=n_b), args.json)


def _protocol(args: argparse.Namespace, **counts: Any) -> dict[str, Any]:
    return {
        **counts,
        "resize": args.resize,
        "extractor": InceptionExtractor.name,
        "weights": str(args.weights or "torch hub cache"),
    }


def kid(args: argparse.Namespace) -> None:
    for source in (args.a, args.b):
        if Path(source).suffix == ".npz":
            raise UserError(f"{source}: KID needs the images' features, not mean/covariance statistics")
    extractor = _extractor(args)
    fa, fb = (folder_features(s, extractor, args.batch_size, args.num_workers).features for s in (args.a, args.b))
    mean, std = kernel_inception_distance(fa, fb, args.subsets, args.subset_size)
    protocol = _protocol(args, n_a=len(fa), n_b=len(fb))
    protocol.update(subsets=args.subsets, subset_size=min(len(fa), len(fb), args.subset_size))
    _report("kid", mean, protocol, args.json, std)


def inception(args: argparse.Namespace) -> None:
    logits = folder_features(args.a, _extractor(args), args.batch_size, args.num_workers).logits
    assert logits is not None
    mean, std = inception_score(logits, args.splits)
    _report("is", mean, _protocol(args, n=len(logits), splits=args.splits), args.json, std)


def _paired_files(sr_dir: Path, hr_dir: Path) -> list[tuple[Path, Path]]:
    """SR and HR files matched by file stem; any file without a partner is an error."""
    sr = {p.stem: p for p in list_images(sr_dir)}
    hr = {p.stem: p for p in list_images(hr_dir)}
    missing = sorted(set(sr) ^ set(hr))
    if missing:
        raise UserError(f"{sr_dir} and {hr_dir}: unmatched file names, e.g. {', '.join(missing[:3])}")
    return [(sr[k], hr[k]) for k in sorted(sr)]


def image_quality(args: argparse.Namespace) -> None:
    fn = psnr if args.metric == "psnr" else ssim
    values = {}
    for sr_path, hr_path in _paired_files(Path(args.a), Path(args.b)):
        sr, hr = np.asarray(open_image(sr_path)), np.asarray(open_image(hr_path))
        if sr.shape != hr.shape:
            raise UserError(
                f"{sr_path}: size {sr.shape[1]}x{sr.shape[0]} differs from {hr_path} {hr.shape[1]}x{hr.shape[0]}"
            )
        left, need = min(sr.shape[:2]) - 2 * args.crop_border, SSIM_WINDOW if fn is ssim else 1
        if left < need:
            raise UserError(f"--crop-border {args.crop_border}: leaves {max(left, 0)} px of {sr_path} "
                            f"({sr.shape[1]}x{sr.shape[0]}); {args.metric} needs at least {need}")  # fmt: skip
        values[sr_path.name] = float(fn(sr, hr, args.crop_border, args.y_channel)[0])
    mean = float(np.mean(list(values.values())))
    protocol = {"n": len(values), "channel": "Y (BT.601)" if args.y_channel else "RGB", "crop_border": args.crop_border}
    _report(args.metric, mean, protocol, args.json)


def run(args: argparse.Namespace) -> None:
    handlers = {
        "fid": fid,
        "kid": kid,
        "is": inception,
        "psnr": image_quality,
        "ssim": image_quality,
        "run": evaluate_run,
    }
    handlers[args.metric](args)


def _available_extractor(args: argparse.Namespace) -> InceptionExtractor | None:
    """The FID Inception when its weights are at hand (``--weights`` or the cache); never downloads."""
    from core_gan.download import cache_dir
    from core_gan.metrics.inception import FID_WEIGHTS_FILE

    if args.weights is None and not (cache_dir() / FID_WEIGHTS_FILE).is_file():
        return None
    return _extractor(args)


def _features(extractor: InceptionExtractor | None, image: np.ndarray, store: list[np.ndarray]) -> None:
    """Append the Inception features of a uint8-valued (H, W, 3) image when an extractor is at hand."""
    if extractor is not None:
        store.append(extractor(torch.from_numpy(image / 255).permute(2, 0, 1)[None].float())[0].double().numpy())


def _distribution_metrics(fake_feats: list[np.ndarray], real_feats: list[np.ndarray], args: argparse.Namespace,
                          prefix: str = "") -> dict[str, Any]:  # fmt: skip
    """FID and KID between two feature lists (nothing when there are fewer than two of them)."""
    if len(fake_feats) < 2:
        return {}
    fake, real = np.concatenate(fake_feats), np.concatenate(real_feats)
    warn_small_sample(min(len(fake), len(real)))
    distances = distribution_distances(fake, real, args.subsets, args.subset_size)
    return {**{prefix + k: v for k, v in distances.items()}, "resize": args.resize}


def evaluate_run(args: argparse.Namespace) -> None:
    """``eval run RUN --data DATA --split test``, written to ``--out``, else ``RUN/eval.json`` (for a
    bundled or imported model, whose folder belongs to the installation: ``./eval-NAME.json``).
    pix2pix: L1 (on [-1, 1]), PSNR and SSIM (RGB, 8-bit) over every pair of the split at full
    resolution. Unpaired models: see :func:`_evaluate_unpaired`. All add FID and KID (per direction) when the
    Inception weights are at hand. What a run gets is what its method declares (``ModelSpec.evaluation``)."""
    from core_gan.checkpoint import write_json
    from core_gan.outputs import check_outputs, files_in
    from gansuite.registry import MODELS
    from gansuite.runs import directions, imported_dir, is_bundled, resolve_run

    if args.data is None:
        raise UserError("eval run: --data DATA is required")
    run = resolve_run(args.a)
    if args.out is not None:  # the default RUN/eval.json is the run's own derived file, replaced by each eval
        check_outputs([args.out], files_in(run), args.overwrite)
    meta = json.loads((run / "model.json").read_text()) if (run / "model.json").is_file() else {}
    spec = MODELS.get(meta.get("model", ""))
    if spec is None or spec.evaluation == "none":
        raise UserError(f"eval run: {args.a} is not a translator (a generative model: gansuite eval fid, diagnose)")
    if args.known_answer and spec.data != "unpaired":
        raise UserError(f"--known-answer: {args.a} is a {spec.data} model; its split already pairs the answers")
    if spec.evaluation == "paired":
        result = _evaluate_pix2pix(args)
    else:
        result = _evaluate_unpaired(args, directions(meta), cycle=spec.evaluation == "cycle")
    result.update(split=args.split, data=str(args.data))
    installed = is_bundled(run) or run.resolve().is_relative_to(imported_dir().resolve())
    out = args.out or (Path(f"eval-{run.name}.json") if installed else run / "eval.json")
    write_json(out, result)
    print(json.dumps(result) if args.json else f"{args.a}: " + ", ".join(f"{k} {v}" for k, v in result.items()))


def _evaluate_pix2pix(args: argparse.Namespace) -> dict[str, Any]:
    from core_gan.data.folders import PairedFolder
    from core_gan.data.transforms import PairedTransformConfig
    from gansuite.inference import Translator

    model = Translator(args.a, args.device)
    if args.hints is not None and not model.hints:
        raise UserError(f"--hints: {args.a} was trained without colour hints")
    pairs = PairedFolder(args.data, args.split, model.direction, PairedTransformConfig("none", flip=False), train=False)
    extractor = _available_extractor(args)
    fake_feats, real_feats = [], []

    def translate(x: torch.Tensor) -> torch.Tensor:
        """The user's path: uint8 in, the Translator (padding, eval mode), uint8 out."""
        out = model(to_uint8(x)[0])
        _features(extractor, out.astype(np.float64), fake_feats)
        return from_uint8(out)[None]

    pairs_1 = [tuple(t[None] for t in pairs[i]) for i in range(len(pairs))]
    for _, y in pairs_1:
        _features(extractor, to_uint8(y)[0].astype(np.float64), real_feats)
    result: dict[str, Any] = paired_scores(translate, pairs_1)
    result.update(channel="RGB", crop_border=0, **_distribution_metrics(fake_feats, real_feats, args))
    if args.hints is not None:
        result["hints"] = {str(n): _scores_with_hints(model, pairs_1, n) for n in args.hints}
    return result


def _scores_with_hints(model: Any, pairs: list[tuple[torch.Tensor, ...]], count: int) -> dict[str, dict[str, float]]:
    """L1, PSNR and SSIM of the model and of the two fills (nearest hint; edge-aware) with ``count``
    evaluation hints per pair (core_gan.hints.evaluation_hints, seeded by the pair's index)."""
    from core_gan.hints import edge_aware_fill, evaluation_hints, nearest_fill, sketch_lines

    outputs: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"model": [], "nearest fill": [],
                                                                     "edge-aware fill": []}  # fmt: skip
    for i, (x, y) in enumerate(pairs):
        sketch, photo = (t[0].permute(1, 2, 0).numpy() for t in (x, y))
        hints = evaluation_hints(photo, count, seed=i)
        fills = {"nearest fill": nearest_fill(hints), "edge-aware fill": edge_aware_fill(hints, sketch_lines(sketch))}
        outputs["model"].append((from_uint8(model(to_uint8(x)[0], hints.to_rgba()))[None], y))
        for name, fill in fills.items():
            outputs[name].append((from_uint8(to_uint8(torch.from_numpy(fill).permute(2, 0, 1)[None])[0])[None], y))
    return {name: paired_scores(lambda out: out, pairs_out) for name, pairs_out in outputs.items()}


def _evaluate_unpaired(args: argparse.Namespace, directions: list[str], cycle: bool) -> dict[str, Any]:
    """Each direction the run translates (AtoB: the split's A images): FID and KID of the translations
    against the split's real images of the other side, when the Inception weights are at hand; with
    ``--known-answer``, PSNR and L1 against the other side's image of the same name (a task whose true
    translation is known); with ``cycle``, the reconstructions F(G(a)) vs a (L1, PSNR)."""
    from gansuite.inference import Translator

    models = {d: Translator(args.a, args.device, direction=d) for d in directions}
    extractor = _available_extractor(args)
    root, result = Path(args.data), {}
    for direction, model in models.items():
        side, other = direction[0], direction[-1]
        answers = {p.stem: p for p in list_images(root / f"{args.split}{other}")} if args.known_answer else {}
        scores: dict[str, list[float]] = {}
        fake_feats: list[np.ndarray] = []
        inputs = list_images(root / f"{args.split}{side}")
        for path in inputs:
            image = np.asarray(open_image(path))
            translated = model(image)
            _features(extractor, translated.astype(np.float64), fake_feats)
            if cycle:
                back = models[f"{other}to{side}"](translated)
                _score(scores, f"cycle_{side}", back, image)
            if args.known_answer:
                _score(scores, f"{side}to{other}_known", translated, _known_answer(answers, path, other, image.shape))
        result.update({k: float(np.mean(v)) for k, v in scores.items()})
        result[f"n_{side}"] = (
            len(fake_feats) if extractor is not None else len(list_images(root / f"{args.split}{side}"))
        )
        real_feats: list[np.ndarray] = []
        if extractor is not None:
            for path in list_images(root / f"{args.split}{other}"):
                _features(extractor, np.asarray(open_image(path)).astype(np.float64), real_feats)
        result.update(_distribution_metrics(fake_feats, real_feats, args, prefix=f"{side}to{other}_"))
    return result


def _score(scores: dict[str, list[float]], name: str, output: np.ndarray, target: np.ndarray) -> None:
    """Append the L1 (on [-1, 1]) and PSNR of a uint8 output against its target under ``name``."""
    out, target = output.astype(np.float64), target.astype(np.float64)
    scores.setdefault(f"{name}_l1", []).append(float(np.abs(out - target).mean() / 127.5))
    scores.setdefault(f"{name}_psnr", []).append(float(psnr(out, target)[0]))


def _known_answer(answers: dict[str, Path], path: Path, other: str, shape: tuple[int, ...]) -> np.ndarray:
    """The other side's image named like ``path``, which ``--known-answer`` says is its true translation."""
    if path.stem not in answers:
        raise UserError(f"--known-answer: {path} has no image of the same name in the {other} split")
    answer = np.asarray(open_image(answers[path.stem]))
    if answer.shape != shape:
        raise UserError(f"--known-answer: {answers[path.stem]} is not the size of {path}")
    return answer
