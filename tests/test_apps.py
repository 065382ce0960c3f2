"""The Gradio apps: handlers on arrays, then the hub over real HTTP with gradio_client, concurrency,
and a headless browser where one is installed. Tiny models trained for one step stand in for the
bundled ones (the bundled checkpoints are checked separately)."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apps import edges2photo, gan, sr, unpaired
from apps.common import AppModels, ResultFiles, load_models
from apps.hub import build_hub, launch
from core_gan.errors import UserError
from gansuite.cli import main
from gansuite.runs import bundled_models


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    rng = np.random.default_rng(0)
    (root / "pairs" / "train").mkdir(parents=True)
    (root / "hr").mkdir()
    for domain in ("trainA", "trainB"):
        (root / "unpaired" / domain).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(
                root / "unpaired" / domain / f"{i}.png"
            )
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (32, 64, 3)).astype(np.uint8)).save(root / "pairs" / "train" / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(root / "hr" / f"{i}.png")
    quick = ["--steps", "1", "--log-every", "1", "--seed", "0"]
    commands = {
        "p2p": ["pix2pix", "--data", str(root / "pairs"), "--netG", "unet_32", "--ngf", "4", "--ndf", "4",
                "--crop-size", "32"],
        "p2ph": ["pix2pix", "--data", str(root / "pairs"), "--netG", "unet_32", "--ngf", "4", "--ndf", "4",
                 "--crop-size", "32", "--hints"],
        "sr4": ["srresnet", "--data", str(root / "hr"), "--blocks", "1", "--features", "4", "--crop-size", "16",
                "--batch-size", "2"],
        "cyc": ["cyclegan", "--data", str(root / "unpaired"), "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4",
                "--crop-size", "32", "--upsample", "resize"],
        "digits": ["dcgan", "--data", "digits", "--ngf", "4", "--ndf", "4", "--batch-size", "8", "--latent-dim", "8"],
        "cdigits": ["cgan", "--data", "digits", "--ngf", "4", "--ndf", "4", "--batch-size", "8", "--latent-dim", "8",
                    "--conditioning", "projection"],
    }  # fmt: skip
    for name, args in commands.items():
        assert main(["train", *args, "--out", str(root / name), *quick]) == 0
    return root


@pytest.fixture(scope="module")
def models(runs):
    names = ("p2p", "p2ph", "cyc", "sr4", "digits", "cdigits")
    return load_models([str(runs / n) for n in names], "cpu", bundled=False)


def _png(path, array):
    Image.fromarray(array).save(path)
    return str(path)


def test_models_load_once_into_their_apps(models):
    assert set(models.translators) == {"p2p", "p2ph"} and set(models.unpaired) == {"cyc"}
    assert set(models.upscalers) == {"bicubic x2", "bicubic x4", "sr4 x4", "sr4 x2"}
    assert set(models.gans) == {"digits", "cdigits"}
    assert models.given == ["p2p", "p2ph", "cyc", "sr4 x4", "digits", "cdigits"]


def test_pickers_offer_the_users_model_first_else_the_first_trained_one():
    models = AppModels(given=["mine x4", "later x4"])
    assert models.default(["bicubic x4", "srgan-x4 x4", "mine x4", "later x4"]) == "later x4"
    assert models.default(["bicubic x4", "srgan-x4 x4", "realesrgan-x4plus x4"]) == "realesrgan-x4plus x4"
    assert models.default(["bicubic x4", "srgan-x4 x4", "srresnet-x4 x4"]) == "srresnet-x4 x4", "best on photos first"
    assert models.default(["bicubic x4", "mine x4"]) == "mine x4"
    assert models.default(["bicubic x2"]) == "bicubic x2"
    assert models.default([]) is None


def test_edges2photo_from_a_sketch_and_from_a_photo(models, tmp_path):
    canvas = np.full((64, 64, 4), 255, np.uint8)
    canvas[30:33, 5:60, :3] = 0
    edges, photo = edges2photo.edges2photo(models, {"background": canvas, "layers": []}, None, "p2p")
    assert edges.shape == photo.shape == (64, 64, 3) and (edges[31, 10] == 0).all()
    upload = _png(tmp_path / "photo.png", np.random.default_rng(1).integers(0, 256, (80, 120, 3)).astype(np.uint8))
    edges, photo = edges2photo.edges2photo(models, None, upload, "p2p")
    assert edges.shape == photo.shape == (256, 256, 3)  # the `data edges` recipe: centre square at 256
    with pytest.raises(UserError, match="draw on the sketchpad or upload a photo"):
        edges2photo.edges2photo(models, {"background": np.full((64, 64, 4), 255, np.uint8)}, None, "p2p")


def _stroke_layer(rows, cols, colour, size=64):
    layer = np.zeros((size, size, 4), np.uint8)
    layer[rows, cols] = (*colour, 255)
    layer[rows.stop, cols] = (*colour, 100)  # an antialiased fringe: under alpha 128, not painted
    return layer


def test_a_painted_sketch_splits_into_lines_and_hints():
    canvas = np.full((64, 64, 3), 255, np.uint8)
    canvas[10, :] = 0  # a line of the uploaded edges
    canvas[50:53, 50:53] = (0, 0, 255)  # a coloured mark on the canvas: a hint
    black = _stroke_layer(slice(30, 32), slice(0, 64), (10, 10, 10))
    red = _stroke_layer(slice(8, 13), slice(20, 30), (200, 30, 30))  # painted over the canvas line
    edges, hints = edges2photo.split_sketch({"background": canvas, "layers": [black, red]})
    assert (edges[10] == 0).all() and (edges[30:32] == 0).all() and (edges[32] == 255).all()
    assert (edges[50:53, 50:53] == 255).all(), "a coloured canvas mark is no line"
    assert (hints[8:13, 20:30] == (200, 30, 30, 255)).all() and (hints[13, 20:30, 3] == 0).all()
    assert (hints[50:53, 50:53] == (0, 0, 255, 255)).all()
    assert (hints[30:32, :, 3] == 0).all(), "black strokes are lines, not hints"
    assert edges2photo.split_sketch({"background": np.full((8, 8, 3), 255, np.uint8), "layers": []}) is None
    old_style, _ = edges2photo.split_sketch({"composite": canvas})  # as the endpoint was called before hints
    assert (old_style[10] == 0).all()


def test_edges2photo_with_colour_hints(models, runs, tmp_path):
    canvas = np.full((64, 64, 3), 255, np.uint8)
    canvas[30:33, 5:60] = 0
    red = _stroke_layer(slice(5, 15), slice(5, 40), (220, 40, 40))
    plain = edges2photo.edges2photo(models, {"background": canvas, "layers": []}, None, "p2ph")[1]
    shown, hinted = edges2photo.edges2photo(models, {"background": canvas, "layers": [red]}, None, "p2ph")
    assert (shown[5:15, 5:40] == (220, 40, 40)).all() and not np.array_equal(plain, hinted)
    ignored = edges2photo.edges2photo(models, {"background": canvas, "layers": [red]}, None, "p2p")
    assert (ignored[0] == canvas).all(), "a model without hints ignores the colours"
    upload = _png(tmp_path / "photo.png", np.random.default_rng(1).integers(0, 256, (80, 120, 3)).astype(np.uint8))
    none = edges2photo.edges2photo(models, None, upload, "p2ph", 0)
    some = edges2photo.edges2photo(models, None, upload, "p2ph", 32)
    assert np.array_equal(none[0], edges2photo.edges2photo(models, None, upload, "p2p")[0])
    assert (some[0] != none[0]).any(axis=2).sum() > 0 and not np.array_equal(none[1], some[1])
    hints = _png(tmp_path / "hints.png", red[:16, :16])  # scaled to the sketch with nearest neighbours
    shown, _ = edges2photo.edges2photo(models, {"background": canvas, "layers": []}, None, "p2ph", 32, hints)
    assert (shown[20:60, 20:64] == (220, 40, 40)).all() and (shown[60:, 20:, 0] != 220).all()
    rgb = _png(tmp_path / "rgb.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(UserError, match=r"^rgb\.png: colour hints need an alpha channel"):
        edges2photo.edges2photo(models, {"background": canvas, "layers": []}, None, "p2ph", 32, rgb)


def test_upscale_is_really_4x_for_rgb_gray_and_rgba(models, tmp_path):
    rng = np.random.default_rng(2)
    for name, array in (("rgb", rng.integers(0, 256, (24, 20, 3))), ("gray", rng.integers(0, 256, (24, 20))),
                        ("rgba", rng.integers(0, 256, (24, 20, 4)))):  # fmt: skip
        path = _png(tmp_path / f"{name}.png", array.astype(np.uint8))
        (before, shown), saved = sr.upscale(models, path, "sr4 x4", progress=lambda *a, **k: None)
        assert shown == saved  # the download is exactly what is shown
        with Image.open(saved) as im:
            assert im.format == "PNG" and im.size == (80, 96)
            assert np.asarray(im).shape == before.shape == (96, 80, *array.shape[2:])
    for x2 in ("bicubic x2", "sr4 x2"):
        (_, shown), _ = sr.upscale(models, path, x2, progress=lambda *a, **k: None)
        with Image.open(shown) as im:
            assert im.size == (40, 48)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: (p.write_text("not an image"), str(p))[1], "cannot read image"),
        (lambda p: None, "upload an image first"),
        (lambda p: _png(p, np.zeros((1, 1, 3), np.uint8)), "too small"),
        (lambda p: (Image.new("L", (10_000, 10_000)).save(p), str(p))[1], "pixel limit"),
    ],
    ids=["non-image", "empty", "1x1", "10000x10000"],
)
def test_bad_uploads_give_one_line_messages(models, tmp_path, make, message):
    path = make(tmp_path / "upload.png")
    with pytest.raises(UserError, match=message) as e:
        sr.upscale(models, path, "bicubic x4", progress=lambda *a, **k: None)
    assert "\n" not in str(e.value)


def test_sample_and_interpolate(models):
    shown, saved = gan.sample(models, "digits", seed=3, n=5, label=None)
    true = np.asarray(Image.open(saved))
    assert true.shape == (2 + 34, 2 + 5 * 34, 3)  # five 32 px samples, 2 px apart
    assert shown.shape == (4 * true.shape[0], 4 * true.shape[1], 3)  # shown 4x, pixel for pixel
    assert np.array_equal(shown[8::4, 8::4][: true.shape[0] - 2], true[2:, 2:][: shown[8::4].shape[0]])
    again, _ = gan.sample(models, "digits", seed=3, n=5, label=None)
    assert np.array_equal(shown, again)  # seeded, stateless
    strip, _ = gan.interpolate(models, "cdigits", seed_a=1, seed_b=2, steps=6, label=7)
    assert strip.shape[1] > 5 * strip.shape[0]  # one row of six
    with pytest.raises(UserError, match=r"1\.\.64"):
        gan.sample(models, "digits", seed=0, n=0, label=None)


def test_an_unlabelled_strip_of_a_conditional_model_keeps_one_class(models, monkeypatch):
    model, labels = models.gans["cdigits"], []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda z, y=None: (labels.append(y), generate(z, y))[1])
    gan.interpolate(models, "cdigits", seed_a=5, seed_b=6, steps=4, label=None)
    gan.interpolate(models, "cdigits", seed_a=5, seed_b=9, steps=4, label=None)
    assert labels[0].unique().numel() == 1 and torch.equal(labels[0], labels[1])  # the class seed A draws


def test_unpaired_translation_both_ways_and_bad_uploads(models, tmp_path):
    photo = np.random.default_rng(5).integers(0, 256, (40, 600, 3)).astype(np.uint8)
    upload = _png(tmp_path / "wide.png", photo)
    shown, out = unpaired.translate_unpaired(models, upload, "cyc", "AtoB")
    assert shown.shape == out.shape == (34, 512, 3)  # scaled to 512 px a side, aspect kept
    _, back = unpaired.translate_unpaired(models, upload, "cyc", "BtoA")
    assert not np.array_equal(out, back)  # two generators
    assert np.array_equal(out, models.unpaired["cyc"]["AtoB"](shown))
    with pytest.raises(UserError, match="unknown direction 'sideways'; expected AtoB or BtoA"):
        unpaired.translate_unpaired(models, upload, "cyc", "sideways")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(UserError, match=r"bad\.jpg: cannot read image") as e:
        unpaired.translate_unpaired(models, str(tmp_path / "bad.jpg"), "cyc", "AtoB")
    assert "\n" not in str(e.value)
    assert unpaired.direction_choices(models, "cyc") == [("A → B", "AtoB"), ("B → A", "BtoA")]


def test_every_model_has_a_card(models, runs):
    assert set(models.cards) == {"p2p", "p2ph", "cyc", "sr4 x4", "sr4 x2", "digits", "cdigits"}
    assert str(runs / "cyc") in models.cards["cyc"] and "cyclegan" in models.cards["cyc"]


@pytest.fixture(scope="module")
def server(models):
    demo = build_hub(models)
    _, url = launch(demo, "127.0.0.1", None, "cpu", block=False)
    yield url
    demo.close()


def test_the_hub_over_http_answers_and_survives_a_bad_upload(server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    good = _png(tmp_path / "good.png", np.random.default_rng(3).integers(0, 256, (16, 12, 3)).astype(np.uint8))
    (tmp_path / "bad.png").write_text("no image here")
    with pytest.raises(AppError, match=r"bad\.png: cannot read image"):
        client.predict(handle_file(str(tmp_path / "bad.png")), "sr4 x4", api_name="/upscale")
    _, download = client.predict(handle_file(good), "sr4 x4", api_name="/upscale")
    with Image.open(download) as im:
        assert im.size == (48, 64) and im.format == "PNG"
    grid, true = client.predict("cdigits", 0, 4, 2, api_name="/sample")
    assert Image.open(grid).format == "PNG" and Image.open(grid).width == 4 * Image.open(true).width
    strip, _ = client.predict("digits", 1, 2, 4, -1, api_name="/interpolate")
    assert Image.open(strip).size[0] > Image.open(strip).size[1]
    with pytest.raises(AppError, match=r"bad\.png: cannot read image"):
        client.predict(handle_file(str(tmp_path / "bad.png")), "cyc", "AtoB", api_name="/translate_unpaired")
    shown, translated = client.predict(handle_file(good), "cyc", "BtoA", api_name="/translate_unpaired")
    assert Image.open(translated).size == Image.open(shown).size == (12, 16)
    _, photo = client.predict(None, handle_file(good), "p2p", api_name="/edges2photo")  # as before hints came
    assert Image.open(photo).size == (256, 256)
    hints = np.zeros((16, 12, 4), np.uint8)
    hints[2:6, 2:6] = (0, 180, 0, 255)
    hints_file = _png(tmp_path / "hints.png", hints)
    shown, photo = client.predict(None, handle_file(good), "p2ph", 0, handle_file(hints_file), api_name="/edges2photo")
    shown = np.asarray(Image.open(shown))  # hints drawn on the photo are cut as it is: its centre square, at 256 px
    assert (shown[8:80, 50:120] == (0, 180, 0)).all() and not (shown[100:, :, 1] == 180).any()


def test_eight_concurrent_clients_get_their_own_results(server, tmp_path):
    from gradio_client import Client, handle_file

    sizes = [(12 + i, 10 + 2 * i) for i in range(8)]
    files = [_png(tmp_path / f"{i}.png", np.full((h, w, 3), 30 * i, np.uint8)) for i, (h, w) in enumerate(sizes)]
    results: dict[int, tuple[int, int]] = {}

    def call(i):
        _, download = Client(server, verbose=False).predict(handle_file(files[i]), "sr4 x4", api_name="/upscale")
        with Image.open(download) as im:
            results[i] = im.size

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == {i: (4 * w, 4 * h) for i, (h, w) in enumerate(sizes)}


def rss_mb() -> float:
    """This process's resident memory (the server runs in it, on threads)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


SOAK_CLIENTS, SOAK_CALLS = 8, 30
SOAK_RSS_GROWTH_MB = 300


def test_soak_mixed_good_and_bad_requests_from_eight_clients(server, tmp_path):
    """240 requests: every good one answered correctly, every bad one with an error, memory bounded,
    the server up at the end. Prints the figures for the record."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    good = _png(tmp_path / "good.png", np.full((12, 10, 3), 90, np.uint8))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    huge = tmp_path / "huge.png"
    Image.new("L", (10_000, 10_000)).save(huge)
    bad = [str(tmp_path / "bad.png"), str(huge)]

    def check_sample(c):
        assert Image.open(c.predict("digits", 1, 4, -1, api_name="/sample")[0]).format == "PNG"

    def check_upscale(c):
        _, download = c.predict(handle_file(good), "sr4 x4", api_name="/upscale")
        assert Image.open(download).size == (40, 48)

    def check_bad(c, k):
        with pytest.raises(AppError, match=r"cannot read image|pixel limit"):
            c.predict(handle_file(bad[k % 2]), "sr4 x4", api_name="/upscale")

    latencies: list[float] = []
    failures: list[str] = []
    bad_answered = []

    def user(i):
        client = Client(server, verbose=False)
        for k in range(SOAK_CALLS):
            t0 = time.perf_counter()
            try:
                kind = (i + k) % 3
                if kind == 2:
                    check_bad(client, k)
                    bad_answered.append(1)
                else:
                    (check_sample if kind == 0 else check_upscale)(client)
            except BaseException as e:
                failures.append(f"client {i} call {k}: {e!r}")
            latencies.append(time.perf_counter() - t0)

    user(0)  # warm-up round: caches, lazy imports
    latencies.clear()
    bad_answered.clear()
    before = rss_mb()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(SOAK_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    growth = rss_mb() - before
    p95 = float(np.percentile(latencies, 95))
    print(f"soak: {len(latencies)} requests, {len(failures)} failures, {len(bad_answered)} bad inputs refused, "
          f"p95 {p95:.2f} s, RSS growth {growth:.0f} MB")  # fmt: skip
    assert not failures, failures[:3]
    assert len(latencies) == SOAK_CLIENTS * SOAK_CALLS
    assert growth < SOAK_RSS_GROWTH_MB
    check_sample(Client(server, verbose=False))  # still up


def test_a_full_queue_answers_busy_at_once_instead_of_growing(tmp_path):
    """A handler we control (it sleeps 3 s), served by our launch() with a queue of 1: of 5 requests
    sent together, one runs, one waits, the others are told at once that the queue is full."""
    import gradio as gr
    from gradio_client import Client

    with gr.Blocks() as demo:
        box = gr.Number()
        box.change(lambda x: time.sleep(3) or x, box, box, api_name="slow")
    _, url = launch(demo, "127.0.0.1", None, "cpu", block=False, queue_size=1)
    clients = [Client(url, verbose=False) for _ in range(5)]  # connected before the burst
    start = threading.Barrier(len(clients))
    outcomes: list[str] = []

    def call(client):
        start.wait()
        t0 = time.perf_counter()
        try:
            client.predict(1, api_name="/slow")
            outcomes.append("ok")
        except Exception as e:
            outcomes.append(f"{time.perf_counter() - t0:.1f}s {e}")

    try:
        threads = [threading.Thread(target=call, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        demo.close()
    busy = [o for o in outcomes if o != "ok"]
    assert outcomes.count("ok") >= 2 and busy, outcomes
    assert all("full" in o.lower() and float(o.split("s ")[0]) < 3 for o in busy), busy


def test_a_public_host_gets_a_warning(models):
    demo = build_hub(models, ("gan",))
    with pytest.warns(UserWarning, match=r"--host 0\.0\.0\.0: the apps are open to other machines"):
        launch(demo, "0.0.0.0", None, "cpu", block=False)
    demo.close()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (Debian: apt-get install chromium)")
def test_a_real_browser_uploads_clicks_and_sees_the_result(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    upload = _png(tmp_path / "photo.png", np.random.default_rng(4).integers(0, 256, (32, 32, 3)).astype(np.uint8))
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]  # fmt: skip
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page()
        page.goto(server)
        page.get_by_role("tab", name="Super-resolution").click()
        page.locator("#sr-image input[type=file]").set_input_files(upload)
        page.locator("#sr-image img").first.wait_for(timeout=30_000)  # the upload has landed
        page.get_by_role("button", name="Upscale").click()
        page.locator("#sr-download a").first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "sr.png"))
        shown = page.locator("#sr-download").inner_text()
        browser.close()
    assert "photo_x4" in shown and os.path.getsize(tmp_path / "sr.png") > 0


def test_bundled_checkpoints_are_small_fp16_load_and_answer_to_their_names(tmp_path, capsys, monkeypatch):
    import safetensors.torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))  # imports (with the realesrgan extra) land here

    bundled = bundled_models()
    expected = {"edges2photo", "srresnet-x4", "srgan-x4", "green2warm", "fastcut-green2warm", "digits-dcgan",
                "digits-cgan"}  # fmt: skip
    assert expected <= set(bundled)
    total = sum(f.stat().st_size for m in bundled.values() for f in m.path.iterdir())
    assert total <= 50 * 2**20
    for model in bundled.values():
        tensors = safetensors.torch.load_file(model.path / "model.safetensors")
        assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    models = load_models(None, "cpu")
    kinds = {name: m.model for name, m in bundled.items()}
    assert set(models.translators) == {name for name, kind in kinds.items() if kind == "pix2pix"}
    assert set(models.unpaired) == {name for name, kind in kinds.items() if kind in ("cyclegan", "fastcut")}
    assert list(models.unpaired["fastcut-green2warm"]) == ["AtoB"], "a one-way model offers its one direction"
    assert set(models.gans) == {"digits-dcgan", "digits-cgan"}
    assert {"srresnet-x4 x4", "realesrgan-x4plus x4"} <= set(models.upscalers)  # imported at start
    assert "srgan-x4 x4" not in models.upscalers, "left out of the apps: its lattice texture"
    cards = [models.cards[name] for name in bundled if name in models.cards]
    assert all(card.count("\n\n") <= 2 and "CPU minutes" in card and "Reproduce: `python -m" in card for card in cards)
    image = _png(tmp_path / "small.png", np.full((10, 14, 3), 120, np.uint8))
    assert main(["upscale", "srgan-x4", image, "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "small.png").size == (56, 40)
    assert main(["models"]) == 0
    assert "srresnet-x4" in capsys.readouterr().out


def test_an_unknown_run_name_lists_the_bundled_ones(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    assert main(["upscale", "no-such-model", str(tmp_path / "x.png"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no-such-model: no such run directory or bundled model" in err and "srresnet-x4" in err


def test_a_busy_port_is_a_one_line_error(models):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError, match=f"--port {port}: cannot serve there"):
            launch(build_hub(models, ("gan",)), "127.0.0.1", port, "cpu", block=False)


def test_result_pngs_keep_the_true_pixels_and_only_the_newest_files():
    rng = np.random.default_rng(0)
    flat = np.full((40, 60, 3), 200, np.uint8)
    flat[10:30, 20:40] = (20, 90, 30)
    results = ResultFiles(keep=2)
    paths = [results.png(image) for image in (rng.integers(0, 256, (40, 60, 3), np.uint8), flat, flat[:, :, 0])]
    assert not os.path.exists(paths[0]), "only the newest 2 are kept"
    np.testing.assert_array_equal(np.asarray(Image.open(paths[1])), flat)
    np.testing.assert_array_equal(np.asarray(Image.open(paths[2])), flat[:, :, 0])


def test_a_stopped_app_closes_and_removes_its_result_pngs():
    script = (
        "import numpy as np, gradio as gr, apps.common as c, apps.hub as h\n"
        "print(c.RESULTS.png(np.zeros((4, 4, 3), np.uint8)), flush=True)\n"
        "with gr.Blocks() as demo:\n"
        "    gr.Markdown('an app')\n"
        "h.launch(demo, '127.0.0.1', None, 'cpu')\n"
    )
    repo = Path(__file__).parents[1]
    app = subprocess.Popen([sys.executable, "-u", "-c", script], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        written = Path(app.stdout.readline().strip())
        assert written.name == "result.png" and written.exists()
        assert any("share=True" in line for line in app.stdout), "the app never served"  # its last start-up line
        app.send_signal(signal.SIGTERM)  # as `docker stop` does
        assert app.wait(timeout=60) != -signal.SIGTERM
    finally:
        app.kill()  # a failed check leaves no server behind
    assert not written.parent.parent.exists(), "the app's result folder outlives the app"


def test_a_refused_upload_is_one_console_line_naming_the_users_file(models, tmp_path, capsys):
    import gradio as gr

    from apps.hub import guard

    bad = tmp_path / "holiday.png"
    bad.write_text("not an image")
    handler = guard(lambda path: sr.upscale(models, path, "bicubic x4", progress=lambda *a, **k: None))
    with pytest.raises(gr.Error) as e:
        handler(str(bad))
    assert e.value.print_exception is False and e.value.__cause__ is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("refused: holiday.png: cannot read image")
