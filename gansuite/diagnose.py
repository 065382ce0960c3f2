"""``gansuite diagnose RUN``: a verdict per way GAN training fails (core_gan.diagnosis) from the run's
``metrics.jsonl``, and a one-page PNG dashboard of the evidence.

A generative model (gan, dcgan, cgan) is also judged on samples drawn now: their diversity relative to
the real data it was trained on (per class for cgan, 50 samples each), which also serves a bundled
model, whose training log does not ship.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core_gan.diagnosis import Verdict, diagnose, diversity_status, read_rows
from core_gan.errors import UserError

MEASURED_PER_CLASS = 50
MEASURED_UNCONDITIONAL = 500


def run_diagnosis(args: argparse.Namespace) -> None:
    from core_gan.outputs import check_outputs, files_in
    from gansuite.runs import BASE_MODELS, imported_dir, is_bundled, resolve_run

    run = resolve_run(args.run)
    meta = json.loads((run / "model.json").read_text()) if (run / "model.json").is_file() else {}
    generative = meta.get("model") in BASE_MODELS
    rows: list[dict[str, Any]] = []
    if (run / "metrics.jsonl").is_file() or not generative:
        rows, note = read_rows(run / "metrics.jsonl")
        if note:
            print(f"warning: {note}", file=sys.stderr)
    verdicts = diagnose(rows) if rows else []
    drawn = None
    if generative:
        verdict, drawn = measured_diversity(run)
        verdicts.append(verdict)
    installed = is_bundled(run) or run.resolve().is_relative_to(imported_dir().resolve())
    out = args.out or (Path(f"diagnosis-{run.name}.png") if installed else run / "diagnosis.png")
    if args.out is not None:
        check_outputs([out], files_in(run), args.overwrite)
    if not rows:
        print(f"{args.run}: no training log (metrics.jsonl); judging the model's samples only")
    for verdict in verdicts:
        print(verdict.line())
    dashboard(run, rows, verdicts, out, drawn)
    print(f"wrote {out}")
    if args.json:
        print(json.dumps([{"failure": v.failure, "status": v.status, "evidence": v.evidence, "steps": v.steps,
                           "advice": v.advice} for v in verdicts]))  # fmt: skip


def training_data(run: Path) -> str:
    """The ``--data`` a run was trained on: config.json's, else the command in a bundled training.json."""
    if (run / "config.json").is_file():
        return str(json.loads((run / "config.json").read_text())["data"])
    if (run / "training.json").is_file():
        words = shlex.split(json.loads((run / "training.json").read_text())["command"].split(" && ")[-1])
        if "--data" in words:
            return words[words.index("--data") + 1]
    raise UserError(f"{run}: neither config.json nor training.json says what data it was trained on")


@torch.no_grad()
def sample_diversity(run: Path) -> tuple[dict[str, float], torch.Tensor, int]:
    """The diversity of samples of a generative run drawn now (50 per class for cgan, else 500) relative to
    the real data it was trained on (core_gan.metrics.diversity); some of the samples (8 per class), for
    the dashboard; the number of classes."""
    from core_gan.metrics.diversity import diversity
    from gansuite.inference import BaseGANModel
    from gansuite.training import load_base_data

    model = BaseGANModel(run)
    config = model.meta["config"]
    size, channels = config.get("image_size", 32), config.get("channels", 1)
    data = load_base_data(training_data(run), size, channels).dataset
    real = [data[i] for i in range(len(data))]
    real_x, real_y = torch.stack([x for x, _ in real]), torch.tensor([int(y) for _, y in real])
    if model.num_classes:
        labels = torch.arange(model.num_classes).repeat_interleave(MEASURED_PER_CLASS)
        samples = model.generate(model.latents(list(range(len(labels)))), labels)
        shown = samples.unflatten(0, (model.num_classes, MEASURED_PER_CLASS))[:, :8].flatten(0, 1)
        return diversity(samples, real_x, labels, real_y), shown, model.num_classes
    samples = model.sample(MEASURED_UNCONDITIONAL)
    return diversity(samples, real_x[:MEASURED_UNCONDITIONAL]), samples[:64], 0


def measured_diversity(run: Path) -> tuple[Verdict, torch.Tensor]:
    """Mode collapse judged on :func:`sample_diversity`, with the samples it shows."""
    figures, shown, classes = sample_diversity(run)
    what = f"{MEASURED_PER_CLASS} samples per class" if classes else f"{MEASURED_UNCONDITIONAL} samples"
    status = diversity_status(figures["diversity"], figures.get("diversity_min") if classes else None)
    lowest = f", lowest class {figures['diversity_min']:.2f}" if classes else ""
    evidence = f"{what} drawn now: diversity {figures['diversity']:.2f} of the real data's{lowest}"
    advice = "minibatch-stddev in D (--minibatch-std), a lower learning rate, or --unroll K"
    return Verdict("mode collapse (measured)", status, evidence, None, advice), shown


def dashboard(
    run: Path, rows: list[dict[str, Any]], verdicts: list[Verdict], out: Path, drawn: torch.Tensor | None = None
) -> None:
    """One page: losses, D's outputs and r_t, diversity and change, gradient norms, the verdicts and the
    last sample grid (or, for a model without one, samples ``drawn`` now, a row per class)."""
    from matplotlib.figure import Figure
    from PIL import Image

    from core_gan.checkpoint import atomic_write

    fig = Figure(figsize=(15, 9), dpi=90)
    axes = fig.subplots(2, 3)
    panels = [
        ("losses", lambda k: k in ("D/total", "G/total") or k.startswith(("G/adv", "D/adv")), False),
        ("D: r_t and outputs", lambda k: k.startswith(("diag/r_t", "diag/D_"))),
        ("diversity, change", lambda k: k.startswith(("diag/diversity", "diag/msgan", "diag/change", "diag/data_"))),
        ("gradient norms", lambda k: k.startswith("grad_norm/"), True),
    ]
    keys = sorted({k for r in rows for k in r})
    for ax, (title, wanted, *log) in zip(axes.flat, panels, strict=False):
        for key in filter(wanted, keys):
            points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
            if points:
                ax.plot(*zip(*points, strict=True), label=key.removeprefix("diag/"))
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
            if log and log[0]:
                ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "not in the log", ha="center", va="center", transform=ax.transAxes)
    text = axes[1, 1]
    text.axis("off")
    colours = {"healthy": "green", "warning": "darkorange", "failing": "red", "not measured": "grey"}
    for i, verdict in enumerate(verdicts):
        text.text(0, 1 - 0.22 * i, fill(verdict.line(), 60), va="top", fontsize=8, color=colours[verdict.status],
                  transform=text.transAxes)  # fmt: skip
    grid = axes[1, 2]
    grid.axis("off")
    grids = sorted((run / "samples").glob("*.png")) if (run / "samples").is_dir() else []
    if grids:
        with Image.open(grids[-1]) as image:
            grid.imshow(np.asarray(image.convert("RGB")))
        grid.set_title(grids[-1].name)
    elif drawn is not None:
        from torchvision.utils import make_grid

        from core_gan.pixels import to_unit

        grid.imshow(make_grid(to_unit(drawn.float().clamp(-1, 1)), nrow=8).permute(1, 2, 0).numpy())
        grid.set_title("samples drawn now (a row per class)" if len(drawn) % 8 == 0 else "samples drawn now")
    fig.suptitle(f"{run}: diagnosis")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))


def fill(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
