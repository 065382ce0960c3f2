"""The ``gansuite`` command line: verb first, one-line errors, exit 2 on bad input."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

from core_gan.device import DEVICES, PRECISIONS
from core_gan.errors import UserError
from core_gan.losses import LOSSES
from gansuite.export import BACKENDS, EXPORT_FORMATS


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``gansuite train: error: ...``) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def seed_list(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integer seeds, got {text!r}") from e


def add_common_training_flags(p: argparse.ArgumentParser) -> None:
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, help="total generator steps (default: per model)")
    length.add_argument("--epochs", type=positive_int, help="total epochs over the data")
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--lr", type=float, help="learning rate (G, and D unless --lr-d)")
    p.add_argument("--lr-d", type=float, help="discriminator learning rate (TTUR)")
    p.add_argument("--decay-steps", type=non_negative_int, help="decay the lrs linearly to 0 over the last N steps")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--sync-bn", action="store_true", help="under torchrun on GPUs: batch statistics over all processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue RUN/checkpoints/last.pt to the same total")
    p.add_argument("--num-workers", type=non_negative_int, default=0)
    p.add_argument("--image-size", type=positive_int, help="base GANs: 32; pix2pix: the crop (256 for unet_256)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3), help="for image folders")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping")
    p.add_argument("--log-every", type=positive_int, default=100)
    p.add_argument("--sample-every", type=positive_int, default=1000)
    p.add_argument("--checkpoint-every", type=positive_int, default=1000)
    p.add_argument("--checkpoint-keep", type=non_negative_int, default=0, help="keep the newest K numbered checkpoints")
    p.add_argument("--anomaly-retries", type=non_negative_int, default=0, help="on NaN/inf: last checkpoint, half lr")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels: with --seed, repeatable runs")
    p.add_argument("--eval-every", type=non_negative_int, default=0, help="FID/KID (or mode coverage) every N steps")
    p.add_argument("--eval-samples", type=positive_int, default=1000, help="images per --eval-every evaluation")
    p.add_argument("--fid-weights", type=Path, help="FID Inception weights for --eval-every on image folders")


def add_base_gan_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", default="nonsaturating", choices=LOSSES)
    p.add_argument("--d-steps", type=positive_int, help="discriminator steps per generator step")
    p.add_argument("--latent-dim", type=positive_int)
    p.add_argument("--spectral-norm", action="store_true")
    p.add_argument(
        "--minibatch-std", action=argparse.BooleanOptionalAction, help="minibatch-stddev feature in D (gan: on)"
    )
    p.add_argument("--ema", type=float, nargs="?", const=0.999, help="EMA of G, decay 0.999 (gan: on; 0 = off)")
    p.add_argument("--clip", type=float, default=0.01, help="WGAN weight clip")
    p.add_argument("--r1", type=float, default=0.0, help="R1 penalty gamma")
    p.add_argument("--unroll", type=non_negative_int, default=0, help="unrolled D steps for G's update (Metz et al.)")
    p.add_argument("--unroll-lr", type=float, default=0.01)
    p.add_argument("--hidden", type=positive_int, default=128, help="gan: hidden width")
    p.add_argument("--layers", type=positive_int, default=3, help="gan: hidden layers")
    p.add_argument("--ngf", type=positive_int, default=64)
    p.add_argument("--ndf", type=positive_int, default=64)
    p.add_argument("--conditioning", default="concat", choices=("concat", "projection", "acgan"))
    p.add_argument("--conditional-bn", action="store_true", help="cgan: class-conditional BN in G")


def add_translation_flags(p: argparse.ArgumentParser) -> None:
    from core_gan.data.transforms import PREPROCESS
    from core_gan.models.translators import GENERATORS
    from core_gan.nn import NORMS
    from translation.pix2pix import GAN_MODES

    p.add_argument("--netG", help=f"{', '.join(GENERATORS)} or unet_N (N a power of 2 >= 32); pix2pix: unet_256, "
                   "cyclegan: resnet_9blocks")  # fmt: skip
    p.add_argument("--netD", default="basic", choices=("basic", "n_layers", "pixel"))
    p.add_argument("--n-layers-d", type=positive_int, default=3)
    p.add_argument("--norm", choices=NORMS, help="pix2pix: batch, cyclegan: instance")
    p.add_argument("--no-dropout", action="store_true", help="no dropout in G")
    p.add_argument("--gan-mode", choices=tuple(GAN_MODES), help="pix2pix: vanilla, cyclegan: lsgan")
    p.add_argument("--lambda-l1", type=float, default=100.0)
    p.add_argument("--lambda-gan", type=float, default=1.0, help="0: the paper's L1-alone baseline (no D)")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"))
    p.add_argument("--preprocess", default="resize_and_crop", choices=PREPROCESS)
    p.add_argument("--load-size", type=positive_int, help="default: image size x 286/256")
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--epochs-decay", type=non_negative_int, default=100, help="epochs of linear decay after --epochs")
    p.add_argument("--lr-policy", default="linear", choices=("linear", "step", "cosine"))
    p.add_argument("--lambda-a", type=float, default=10.0, help="cyclegan: weight of ||F(G(a)) - a||")
    p.add_argument("--lambda-b", type=float, default=10.0, help="cyclegan: weight of ||G(F(b)) - b||")
    p.add_argument("--lambda-identity", type=float, default=0.5, help="cyclegan: identity weight (x lambda)")
    p.add_argument("--pool-size", type=non_negative_int, default=50, help="cyclegan: history of fakes for D")
    p.add_argument("--serial", action="store_true", help="cyclegan: pair A[i] with B[i] instead of a random B")


def add_super_resolution_flags(p: argparse.ArgumentParser) -> None:
    from translation.srgan import CONTENT_LOSSES, SCALES

    p.add_argument("--scale", type=int, choices=SCALES, help="srresnet/srgan: upscaling factor (default 4)")
    p.add_argument("--arch", default="srresnet", choices=("srresnet", "rrdb"), help="srresnet/srgan: G's network")
    p.add_argument("--blocks", type=positive_int, help="srresnet: residual blocks (16); rrdb: RRDB blocks (23)")
    p.add_argument("--no-bn", action="store_true", help="srresnet: no batch norm (ESRGAN's finding)")
    p.add_argument("--content-loss", choices=CONTENT_LOSSES, help="srresnet: mse, srgan: vgg54")
    p.add_argument("--vgg-weights", type=Path, help="torchvision's vgg19-dcbb9e9d.pth (default: torch hub cache)")
    p.add_argument("--init", type=Path, help="srgan: start G from this SRResNet run")
    p.add_argument("--val-data", type=Path, help="srresnet/srgan: held-out HR images for validation PSNR/SSIM")


def build_parser() -> Parser:
    parser = Parser(prog="gansuite", description="GANs and image-to-image translation on PyTorch.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = sub.add_parser("train", help="train a model")
    train.add_argument("model", help="gan | dcgan | cgan | pix2pix | cyclegan | srresnet | srgan")
    train.add_argument("--data", required=True, help="ring8 | grid25 | digits | an image folder | paired data")
    train.add_argument("--out", required=True, type=Path, help="run directory")
    add_common_training_flags(train)
    add_base_gan_flags(train)
    add_translation_flags(train)
    add_super_resolution_flags(train)

    sample = sub.add_parser("sample", help="draw samples from a base GAN run")
    sample.add_argument("run", type=Path)
    sample.add_argument("-n", type=positive_int, default=64)
    sample.add_argument("--out", required=True, type=Path, help="grid.png, a folder, or points.npy")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--label", help="class K, or 'all' for one row per latent and one column per class")
    sample.add_argument("--device", default="cpu", choices=DEVICES)

    interp = sub.add_parser("interpolate", help="latent walk between two seeds")
    interp.add_argument("run", type=Path)
    interp.add_argument("--out", required=True, type=Path)
    interp.add_argument("--steps", type=positive_int, default=10)
    interp.add_argument("--seed-a", type=int, default=0)
    interp.add_argument("--seed-b", type=int, default=1)
    interp.add_argument("--slerp", action="store_true")
    interp.add_argument("--label", type=int)
    interp.add_argument("--device", default="cpu", choices=DEVICES)

    arith = sub.add_parser("arithmetic", help="G(mean z_A - mean z_B + mean z_C), DCGAN section 6.3")
    arith.add_argument("run", type=Path)
    arith.add_argument("--a", required=True, type=seed_list, help="seeds, comma-separated")
    arith.add_argument("--b", required=True, type=seed_list)
    arith.add_argument("--c", required=True, type=seed_list)
    arith.add_argument("--out", required=True, type=Path)
    arith.add_argument("--label", type=int)
    arith.add_argument("--device", default="cpu", choices=DEVICES)

    evaluate = sub.add_parser("eval", help="metrics: fid, kid, is, psnr, ssim")
    evaluate.add_argument("metric", choices=("fid", "kid", "is", "psnr", "ssim", "run"))
    evaluate.add_argument("a", type=Path, help="fid/kid: folder or .npz; is: folder; psnr/ssim: SR folder; run: RUN")
    evaluate.add_argument("b", type=Path, nargs="?", help="fid/kid: folder or .npz; psnr/ssim: HR folder")
    evaluate.add_argument("--weights", type=Path, help="FID Inception weights file (default: torch hub cache)")
    evaluate.add_argument("--resize", default="legacy", choices=("legacy", "clean"))
    evaluate.add_argument("--batch-size", type=positive_int, default=50)
    evaluate.add_argument("--num-workers", type=non_negative_int, default=0)
    evaluate.add_argument("--device", default="auto", choices=DEVICES)
    evaluate.add_argument("--save-stats", type=Path, help="fid: save the first folder's mu/sigma to this .npz")
    evaluate.add_argument("--subsets", type=positive_int, default=100, help="kid")
    evaluate.add_argument("--subset-size", type=positive_int, default=1000, help="kid")
    evaluate.add_argument("--splits", type=positive_int, default=10, help="is")
    evaluate.add_argument("--y-channel", action="store_true", help="psnr/ssim on BT.601 luma")
    evaluate.add_argument("--crop-border", type=non_negative_int, default=0, help="psnr/ssim: pixels cut per side")
    evaluate.add_argument("--json", action="store_true", help="one JSON object keyed by the metric's name")
    evaluate.add_argument("--data", type=Path, help="run: the paired data")
    evaluate.add_argument("--split", default="test", help="run: the split to evaluate")

    data = sub.add_parser("data", help="build, download and list datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    edges = data_sub.add_parser("edges", help="photos -> edges|photo pairs (Canny) for pix2pix")
    edges.add_argument("src", type=Path)
    edges.add_argument("dst", type=Path)
    edges.add_argument("--size", type=positive_int, default=256)
    edges.add_argument("--low", type=float, default=0.1, help="Canny low threshold")
    edges.add_argument("--high", type=float, default=0.2, help="Canny high threshold")
    edges.add_argument("--sigma", type=float, default=2.0)
    edges.add_argument("--dilate", type=non_negative_int, default=0, help="thicken edges by N pixels")
    edges.add_argument("--min-fragment", type=non_negative_int, default=10, help="drop edge fragments under N pixels")
    combine = data_sub.add_parser("combine", help="pair A/x and B/x into A|B side-by-side images")
    combine.add_argument("a", type=Path)
    combine.add_argument("b", type=Path)
    combine.add_argument("dst", type=Path)
    crops = data_sub.add_parser("sr-crops", help="cut HR images into overlapping sub-images")
    crops.add_argument("src", type=Path)
    crops.add_argument("dst", type=Path)
    crops.add_argument("--size", type=positive_int, default=480)
    crops.add_argument("--step", type=positive_int, default=240)
    get = data_sub.add_parser("download", help="download, verify and extract a catalog dataset")
    get.add_argument("name")
    get.add_argument("dest", type=Path)
    data_sub.add_parser("list", help="the catalog of standard datasets")

    tr = sub.add_parser("translate", help="pix2pix / CycleGAN inference on files or folders")
    tr.add_argument("run", type=Path)
    tr.add_argument("inputs", type=Path, nargs="+")
    tr.add_argument("--out", required=True, type=Path)
    tr.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan: which generator; pix2pix: must match")
    tr.add_argument("--paired", action="store_true", help="inputs hold A|B side by side; B is shown as target")
    tr.add_argument("--paper-test-mode", action="store_true", help="dropout and batch statistics at test time")
    tr.add_argument("--device", default="cpu", choices=DEVICES)
    tr.add_argument("--backend", default="torch", choices=BACKENDS, help="onnxruntime: the ONNX export, on the CPU")

    up = sub.add_parser("upscale", help="super-resolution of images of any size, tiled")
    up.add_argument("run", help="an SRResNet/SRGAN run, a bundled model's name, or 'bicubic'")
    up.add_argument("inputs", type=Path, nargs="+")
    up.add_argument("--out", required=True, type=Path)
    up.add_argument("--scale", type=int, help="bicubic: the factor (default 4); a model: must be its own")
    up.add_argument("--tile", type=int, default=512, help="input tile size; 0 = the whole image at once")
    up.add_argument("--tile-overlap", type=int, default=32, help="context pixels around each tile")
    up.add_argument("--device", default="auto", choices=DEVICES)
    up.add_argument("--backend", default="torch", choices=BACKENDS, help="onnxruntime: the ONNX export, on the CPU")

    ex = sub.add_parser("export", help="a run's generator as ONNX (any image size), TorchScript or safetensors")
    ex.add_argument("run", help="a run directory or a bundled model's name")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    ex.add_argument("--out", required=True, type=Path)
    ex.add_argument("--direction", choices=("AtoB", "BtoA"), help="cyclegan: which generator (default AtoB)")

    app = sub.add_parser("app", help="Gradio apps: edges2photo, sr, gan, or all of them as tabs")
    app.add_argument("name", nargs="?", default="all", choices=("edges2photo", "sr", "gan", "all"))
    app.add_argument("--checkpoint", action="append", default=[], help="a run to serve as well (repeatable)")
    app.add_argument("--no-bundled", action="store_true", help="serve only the --checkpoint runs")
    demo = sub.add_parser("demo", help="the hub of every app on the bundled checkpoints")
    for p in (app, demo):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=7860)
        p.add_argument("--device", default="auto", choices=DEVICES)

    weights = sub.add_parser("weights", help="import published pretrained weights")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True, parser_class=Parser)
    imp = weights_sub.add_parser("import", help="Real-ESRGAN weights (.pth or the realesrgan extra) -> a run")
    imp.add_argument("name", choices=("realesrgan-x4plus", "realesrgan-x4plus-anime"))
    imp.add_argument("--out", type=Path, help="run directory (default: $TORCH_HOME/hub/gansuite/NAME)")
    imp.add_argument("--from", dest="source", type=Path, help="the official .pth (default: the extra's ncnn files)")

    sub.add_parser("models", help="list the trainable, bundled and imported models")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        return run(args)
    except UserError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is intact", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    from gansuite import commands

    handler = getattr(commands, args.command)
    handler(args)
    return 0
