"""Colour hints: the sampler, the fills, G's input encoding, the zero-init warm start and `translate --hints`."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from core_gan.data.folders import PairedFolder
from core_gan.hints import (
    HINT_CHANNELS,
    HintConfig,
    HintedPairs,
    Hints,
    edge_aware_fill,
    encode,
    evaluation_hints,
    load_with_zero_hints,
    nearest_fill,
    sample_hints,
    sketch_lines,
    visible,
)
from gansuite.cli import main
from gansuite.inference import Translator
from translation.pix2pix import Pix2PixConfig, build_generator


def _photo(seed=0, size=48):
    return np.random.default_rng(seed).uniform(-1, 1, (size, size, 3)).astype(np.float32)


def _components(mask):
    from scipy import ndimage

    return ndimage.label(mask)


def test_hint_counts_are_geometric_with_the_no_hint_share():
    config = HintConfig(hint_p=1 / 8, hint_none_share=0.5, hint_stroke_share=0.0, hint_max_side=1)
    rng, photo = np.random.default_rng(0), _photo(size=96)
    counts = [int(sample_hints(photo, config, rng).mask.sum()) for _ in range(3000)]
    share_none = np.mean([c == 0 for c in counts])
    # P(0) = 0.5 (no-hint images) + 0.5 * p (a geometric draw of zero hints); 1 px squares rarely coincide
    assert share_none == pytest.approx(0.5 + 0.5 / 8, abs=0.03)
    assert np.mean(counts) == pytest.approx(0.5 * 7, rel=0.1)  # half the images, mean (1 - p) / p = 7


def test_hint_squares_hold_the_targets_mean_and_have_sides_1_to_max():
    config = HintConfig(hint_p=0.5, hint_none_share=0.0, hint_stroke_share=0.0, hint_max_side=9)
    rng = np.random.default_rng(3)
    sides = set()
    for k in range(300):
        photo = _photo(k)
        hints = sample_hints(photo, config, rng)
        labels, n = _components(hints.mask)
        for k in range(1, n + 1):
            ys, xs = np.nonzero(labels == k)
            h, w = np.ptp(ys) + 1, np.ptp(xs) + 1
            if len(ys) == h * w and h == w and np.ptp(hints.colours[ys, xs], axis=0).max() == 0:
                sides.add(int(h))  # a lone square (overlapping squares are skipped)
                window = photo[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
                np.testing.assert_allclose(hints.colours[ys[0], xs[0]], window.reshape(-1, 3).mean(0), atol=1e-5)
    assert sides == set(range(1, 10))


def test_strokes_are_one_colour_the_mean_of_the_target_under_them():
    config = HintConfig(hint_p=0.5, hint_none_share=0.0, hint_stroke_share=1.0)
    rng = np.random.default_rng(1)
    seen = 0
    for k in range(100):
        photo = _photo(k, 96)
        hints = sample_hints(photo, config, rng)
        labels, n = _components(hints.mask)
        if n != 1 or np.ptp(hints.colours[labels == 1], axis=0).max() > 0:
            continue  # overlapping strokes: check the lone ones
        pixels = labels == 1
        assert pixels.sum() >= 8 and not (pixels.all(axis=0).any() or pixels.all(axis=1).any())
        np.testing.assert_allclose(hints.colours[pixels], np.broadcast_to(photo[pixels].mean(0), (pixels.sum(), 3)),
                                   atol=1e-5)  # fmt: skip
        seen += 1
    assert seen > 10


def test_the_sampler_is_seeded():
    config = HintConfig(hint_p=0.1, hint_none_share=0.2)
    draw = [sample_hints(_photo(), config, np.random.default_rng(5)) for _ in range(2)]
    assert np.array_equal(draw[0].mask, draw[1].mask) and np.array_equal(draw[0].colours, draw[1].colours)
    other = sample_hints(_photo(), config, np.random.default_rng(6))
    assert not np.array_equal(other.mask, draw[0].mask)


def test_evaluation_hints_are_5px_squares_of_the_mean_and_repeat_by_seed():
    photo = _photo(size=64)
    hints = evaluation_hints(photo, 1, seed=2)
    ys, xs = np.nonzero(hints.mask)
    assert np.ptp(ys) == np.ptp(xs) == 4 and hints.mask.sum() == 25
    np.testing.assert_allclose(hints.colours[ys[0], xs[0]], photo[hints.mask].mean(0), atol=1e-6)
    assert np.array_equal(evaluation_hints(photo, 16, seed=2).mask, evaluation_hints(photo, 16, seed=2).mask)


def test_fills_nearest_hint_and_region_means_bounded_by_lines():
    colours, mask = np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), bool)
    mask[1, 1], colours[1, 1] = True, (1, 0, 0)  # left region
    mask[6, 2], colours[6, 2] = True, (0, 1, 0)  # left region too
    mask[4, 6], colours[4, 6] = True, (0, 0, 1)  # right region
    hints = Hints(colours, mask)
    near = nearest_fill(hints)
    assert tuple(near[0, 0]) == (1, 0, 0) and tuple(near[7, 1]) == (0, 1, 0) and tuple(near[4, 7]) == (0, 0, 1)
    sketch = np.ones((8, 8, 3), np.float32)
    sketch[:, 4] = -1  # a vertical line splits the image
    lines = sketch_lines(sketch)
    fill = edge_aware_fill(hints, lines)
    np.testing.assert_allclose(fill[:, :4], np.broadcast_to((0.5, 0.5, 0), (8, 4, 3)))
    np.testing.assert_allclose(fill[:, 5:], np.broadcast_to((0, 0, 1), (8, 3, 3)))
    np.testing.assert_allclose(fill[:, 4], near[:, 4])  # line pixels: the nearest hint
    assert not edge_aware_fill(Hints.none(8, 8), lines).any()


def test_encoding_is_zero_without_hints_and_shows_the_hints_over_the_sketch():
    sketch = _photo(size=16)
    x = encode(sketch, Hints.none(16, 16))
    assert x.shape == (3 + HINT_CHANNELS, 16, 16) and not x[3:].any()
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[2:4, 5:9] = (255, 0, 0, 255)
    hints = Hints.from_rgba(rgba)
    assert np.array_equal(hints.to_rgba(), rgba)
    shown = visible(torch.from_numpy(encode(sketch, hints))[None], 3)[0].permute(1, 2, 0).numpy()
    assert np.allclose(shown[2:4, 5:9], (1, -1, -1)) and np.allclose(shown[8:], sketch[8:])


def test_a_hintless_parent_warm_starts_a_hinted_g_with_its_exact_output():
    torch.manual_seed(0)
    parent = build_generator(Pix2PixConfig(netG="unet_32", ngf=4)).eval()
    child = build_generator(Pix2PixConfig(netG="unet_32", ngf=4, hints=True)).eval()
    load_with_zero_hints(child, parent.state_dict())
    x, hint_channels = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, HINT_CHANNELS, 32, 32)
    with torch.no_grad():
        assert torch.equal(child(torch.cat([x, hint_channels], 1)), parent(x))


def test_hinted_pairs_draw_training_hints_and_fixed_evaluation_hints(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train").mkdir()
    for i in range(2):
        a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(tmp_path / "train" / f"{i}.png")
    pairs = PairedFolder(tmp_path, "train", train=False)
    x, y = HintedPairs(pairs, HintConfig(), eval_count=4)[1]
    assert x.shape == (13, *y.shape[1:]) and torch.equal(x[:3], pairs[1][0]) and torch.equal(y, pairs[1][1])
    assert 0 < x[6].sum() <= 4 * 25 and torch.equal(x, HintedPairs(pairs, HintConfig(), eval_count=4)[1][0])


@pytest.fixture(scope="module")
def hinted_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hints")
    rng = np.random.default_rng(0)
    (root / "data" / "train").mkdir(parents=True)
    for i in range(2):
        a = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / "data" / "train" / f"{i}.png")
    common = ["--data", str(root / "data"), "--steps", "2", "--log-every", "1", "--device", "cpu"]
    net = ["--netG", "unet_32", "--ngf", "4", "--ndf", "4"]
    assert main(["train", "pix2pix", *common, *net, "--out", str(root / "base")]) == 0
    assert main(["train", "pix2pix", *common, "--init", str(root / "base"), "--hints", "--out", str(root / "run")]) == 0
    return root


def test_a_warm_started_hint_run_records_its_hints(hinted_run):
    config = json.loads((hinted_run / "run" / "config.json").read_text())
    assert config["model"]["config"]["hints"] and config["hints"]["hint_p"] == 0.125
    assert json.loads((hinted_run / "run" / "model.json").read_text())["config"]["hints"]


def _sketch_and_hints(folder, size=32, hint_size=16):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), 255, np.uint8)).save(folder / "cat.png")
    rgba = np.zeros((hint_size, hint_size, 4), np.uint8)
    rgba[2:6, 2:6] = (0, 200, 0, 255)
    return rgba


def test_translate_matches_hints_by_stem_and_scales_them(hinted_run, tmp_path):
    run, model = hinted_run / "run", Translator(hinted_run / "run")
    rgba = _sketch_and_hints(tmp_path / "in")
    (tmp_path / "hints").mkdir()
    Image.fromarray(rgba).save(tmp_path / "hints" / "cat.png")
    assert main(["translate", str(run), str(tmp_path / "in"), "--hints", str(tmp_path / "hints"),
                 "--out", str(tmp_path / "o")]) == 0  # fmt: skip
    sketch = np.asarray(Image.open(tmp_path / "in" / "cat.png").convert("RGB"))
    scaled = np.asarray(Image.fromarray(rgba).resize((32, 32), Image.Resampling.NEAREST))
    out = np.asarray(Image.open(tmp_path / "o" / "00000_cat_output.png"))
    assert np.array_equal(out, model(sketch, scaled)) and not np.array_equal(out, model(sketch))
    assert main(["translate", str(run), str(tmp_path / "in"), "--out", str(tmp_path / "p")]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "p" / "00000_cat_output.png")), model(sketch))


def test_translate_hints_errors_are_one_line(hinted_run, tmp_path, capsys):
    run, base = hinted_run / "run", hinted_run / "base"
    rgba = _sketch_and_hints(tmp_path / "in")
    Image.fromarray(rgba).save(tmp_path / "h.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "other").mkdir()
    Image.fromarray(rgba).save(tmp_path / "other" / "dog.png")
    cases = {
        (str(base), "h.png"): "trained without colour hints",
        (str(run), "rgb.png"): "need an alpha channel",
        (str(run), "text.png"): "cannot read image",
        (str(run), "other"): "dog.png matches no input",
        (str(run), "missing"): "no such file or folder",
    }
    for (model, hints), message in cases.items():
        code = main(["translate", model, str(tmp_path / "in"), "--hints", str(tmp_path / hints),
                     "--out", str(tmp_path / "o")])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and len(err.splitlines()) == 1, (hints, err)


def test_eval_run_reports_the_model_and_both_fills_at_each_number_of_hints(hinted_run, tmp_path, capsys):
    args = ["eval", "run", str(hinted_run / "run"), "--data", str(hinted_run / "data"), "--split", "train",
            "--out", str(tmp_path / "e.json"), "--json"]  # fmt: skip
    assert main([*args, "--hints", "0,64"]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    zero, many = result["hints"]["0"], result["hints"]["64"]
    assert zero["model"]["psnr"] == pytest.approx(result["psnr"])  # no hint: the plain evaluation
    assert zero["nearest fill"] == zero["edge-aware fill"]  # both grey
    assert many["nearest fill"]["l1"] < zero["nearest fill"]["l1"]  # 64 squares of the photo's own colours
    capsys.readouterr()
    base = ["eval", "run", str(hinted_run / "base"), "--data", str(hinted_run / "data"), "--split", "train"]
    assert main([*base, "--hints", "16"]) == 2 and "trained without colour hints" in capsys.readouterr().err


def test_a_resumed_hint_run_draws_the_hints_an_uninterrupted_one_would(hinted_run, tmp_path):
    import shutil

    import safetensors.torch

    args = ["train", "pix2pix", "--data", str(hinted_run / "data"), "--netG", "unet_32", "--ngf", "4", "--ndf", "4",
            "--hints", "--hint-none-share", "0", "--hint-p", "0.2", "--preprocess", "none", "--no-flip",
            "--steps", "4", "--checkpoint-every", "2", "--checkpoint-keep", "2", "--log-every", "1",
            "--device", "cpu", "--logger", "none"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "full")]) == 0
    part = tmp_path / "part"
    (part / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "full/config.json", part / "config.json")
    shutil.copy(tmp_path / "full/checkpoints/step_0000002.pt", part / "checkpoints/last.pt")  # stopped at step 2
    assert main([*args, "--out", str(part), "--resume"]) == 0
    full, resumed = (safetensors.torch.load_file(run / "model.safetensors") for run in (tmp_path / "full", part))
    assert all(torch.equal(full[k], resumed[k]) for k in full)
