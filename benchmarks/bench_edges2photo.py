"""edges -> photo on photos no model was trained on: the offline-photos corpus's test split and the 7
bundled sample photos, next to two trivial baselines (a uniform grey image; the training photos' mean
colour), and, for a model trained with colour hints, at 0, 4, 16, 64 and 256 hint points (the protocol
of core_gan.hints.evaluation_hints: 5 x 5 px squares of the photo's mean colour, seeded by the photo's
index) next to the two fills of the same hints (nearest hint; edge-aware: regions between the sketch's
lines take the mean of their hints).

    python -m benchmarks.bench_edges2photo [--model edges2photo] [--corpus DIR] [--split test] [--record]
        [--hints 0,4,16,64,256] [--plot docs/hints_psnr.png]

Each photo goes through what the app does: its centre square at 256 px, the default edge recipe of
`gansuite data edges`, the model. Figures per set (means; the grid ratio is a median):
PSNR / SSIM (RGB), colour error (mean CIELAB Delta E of 16x16-blurred images), sharpness (gradient
energy of output / photo), sketch fidelity (edge F1 of the edge recipe run on the output against the
input, 2 px tolerance) and grid ratio (period-2/4/8 lattice energy of output / photo).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import append_results
from core_gan.data.builders import photo_and_edges
from core_gan.data.images import list_images, open_image, readable
from core_gan.hints import edge_aware_fill, evaluation_hints, nearest_fill, sketch_lines
from core_gan.metrics.image_quality import psnr, ssim
from core_gan.metrics.translation_quality import colour_error, edge_f1, gradient_energy, grid_energy
from core_gan.pixels import signed, unsigned
from gansuite.inference import Translator
from gansuite.runs import resolve_run

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "datasets" / "samples" / "photos"
BUNDLED_DATA = ROOT / "runs" / "bundled" / "data"


def scores(photo: np.ndarray, edges: np.ndarray, out: np.ndarray) -> dict[str, float]:
    grid = grid_energy(out) / grid_energy(photo)
    return {
        "PSNR dB": psnr(out, photo).item(), "SSIM": ssim(out, photo).item(), "Delta E": colour_error(out, photo),
        "sharpness": gradient_energy(out) / gradient_energy(photo), "edge F1": edge_f1(edges, out), "grid": grid,
    }  # fmt: skip


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    return {
        k: float(np.median([r[k] for r in rows]) if k == "grid" else np.mean([r[k] for r in rows])) for k in rows[0]
    }


def training_mean_colour(pairs: Path) -> np.ndarray:
    """Mean RGB of the photo halves of the training pairs (edges | photo)."""
    total = np.zeros(3)
    files = sorted(pairs.glob("*.png"))
    for path in files:
        both = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        total += both[:, both.shape[1] // 2 :].mean(axis=(0, 1))
    return np.round(total / len(files)).astype(np.uint8)


def evaluate(model: Translator, photos: list[Path], mean_colour: np.ndarray) -> dict[str, dict[str, float]]:
    rows: dict[str, list[dict[str, float]]] = {"model": [], "grey": [], "mean colour": []}
    for path in photos:
        photo, edges = photo_and_edges(open_image(path))
        rows["model"].append(scores(photo, edges, model(edges)))
        for name, colour in (("grey", np.array([128, 128, 128], np.uint8)), ("mean colour", mean_colour)):
            rows[name].append(scores(photo, edges, np.broadcast_to(colour, photo.shape).copy()))
    return {name: summary(r) for name, r in rows.items()}


def evaluate_hints(model: Translator, photos: list[Path], counts: list[int]) -> dict[int, dict[str, dict[str, float]]]:
    """count -> output -> figures: the model and the two fills at each number of evaluation hints."""
    rows: dict[int, dict[str, list[dict[str, float]]]] = {n: {} for n in counts}
    for index, path in enumerate(photos):
        photo, edges = photo_and_edges(open_image(path))
        for n in counts:
            hints = evaluation_hints(signed(photo), n, seed=index)
            outputs = {
                "model": model(edges, hints.to_rgba()),
                "nearest fill": unsigned(nearest_fill(hints)),
                "edge-aware fill": unsigned(edge_aware_fill(hints, sketch_lines(signed(edges)))),
            }
            for name, out in outputs.items():
                rows[n].setdefault(name, []).append(scores(photo, edges, out))
    return {n: {name: summary(r) for name, r in by_output.items()} for n, by_output in rows.items()}


def plot_psnr(results: dict[str, dict[int, dict[str, dict[str, float]]]], path: Path) -> None:
    """PSNR against the number of hints, one panel per photo set (as Zhang et al.'s Fig. 6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (set_name, by_count) in zip(axes[0], results.items(), strict=True):
        counts = list(by_count)
        for output in by_count[counts[0]]:
            ax.plot([max(n, 0.5) for n in counts], [by_count[n][output]["PSNR dB"] for n in counts], "o-",
                    label=output)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks([max(n, 0.5) for n in counts], [str(n) for n in counts])
        ax.set(title=set_name, xlabel="hint points (5 x 5 px)", ylabel="PSNR (dB)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="edges2photo", help="a run directory or a bundled model's name")
    p.add_argument("--corpus", type=Path, default=BUNDLED_DATA / "offline-photos", help="the offline-photos corpus")
    p.add_argument("--split", default="test", choices=["val", "test"],
                   help="the corpus split to score (val: to choose settings; test: the figures reported)")  # fmt: skip
    p.add_argument("--train-pairs", type=Path, default=BUNDLED_DATA / "edges" / "train",
                   help="the model's training pairs, for the mean-colour baseline")  # fmt: skip
    p.add_argument("--hints", default="0,4,16,64,256", help="numbers of hint points, for a model trained with hints")
    p.add_argument("--plot", type=Path, help="write PSNR against the number of hints to this PNG")
    p.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    a = p.parse_args()
    model = Translator(resolve_run(a.model))
    mean_colour = training_mean_colour(a.train_pairs)
    table: list[dict[str, object]] = []
    sets = {
        f"corpus {a.split} split": readable(list_images(a.corpus / a.split)),
        "bundled samples": readable(list_images(SAMPLES)),
    }
    by_set = {}
    for set_name, photos in sets.items():
        photos_text = f"{set_name} ({len(photos)})"
        if model.hints:
            by_set[photos_text] = evaluate_hints(model, photos, [int(n) for n in a.hints.split(",")])
            rows = [(f"{n} hints", name, f) for n, outs in by_set[photos_text].items() for name, f in outs.items()]
        else:
            rows = [("", name, f) for name, f in evaluate(model, photos, mean_colour).items()]
        for hints, name, figures in rows:
            table.append({"photos": photos_text, **({"hints": hints} if hints else {}), "output": name,
                          **{k: f"{v:.3f}" if k != "PSNR dB" else f"{v:.2f}" for k, v in figures.items()}})  # fmt: skip
            print(table[-1], flush=True)
    if a.plot and by_set:
        plot_psnr(by_set, a.plot)
    if a.record:
        append_results(f"edges2photo on unseen photos ({a.model})", table,
                       notes=f"mean colour of the training photos: {tuple(int(c) for c in mean_colour)}")  # fmt: skip


if __name__ == "__main__":
    main()
