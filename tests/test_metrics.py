"""FID, KID, IS, PSNR, SSIM against closed forms and reference implementations (offline)."""

import json
import math
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from core_gan import download
from core_gan.errors import UserError
from core_gan.metrics.features import InceptionExtractor, folder_features, resize_for_inception
from core_gan.metrics.image_quality import PSNR, SSIM, psnr, rgb_to_y, ssim
from core_gan.metrics.inception import FID_WEIGHTS_FILE, FIDInceptionV3, load_fid_inception
from core_gan.metrics.statistics import (
    FeatureStats,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    load_stats,
    save_stats,
)
from gansuite.cli import main


def _random_cov(rng, d, n=None):
    x = rng.standard_normal((n or 3 * d, d))
    return x.mean(0), np.cov(x, rowvar=False)


def _scipy_fid(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_frechet_distance_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    for d in (4, 64):
        mu1, s1 = _random_cov(rng, d)
        mu2, s2 = _random_cov(rng, d)
        mu2 = mu2 + 0.3
        ours = frechet_distance(mu1, s1, mu2, s2)
        assert ours == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_distance_of_rank_deficient_covariances_is_finite_and_real():
    rng = np.random.default_rng(1)
    mu1, s1 = _random_cov(rng, 32, n=10)  # N < d: rank 9
    mu2, s2 = _random_cov(rng, 32, n=12)
    value = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(value) and isinstance(value, float) and value > 0


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    # For commuting covariances Tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1.0 + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    assert frechet_distance(np.zeros(3), np.diag(a), np.array([1.0, 0, 0]), np.diag(b)) == pytest.approx(expected)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise():
    rng = np.random.default_rng(2)
    feats = rng.standard_normal((500, 16))
    stats = FeatureStats.empty(16)
    for chunk in np.array_split(feats, 7):  # streaming in uneven batches
        stats.update(chunk)
    np.testing.assert_allclose(stats.sigma, np.cov(feats, rowvar=False), rtol=1e-10, atol=1e-12)
    assert abs(frechet_distance(stats.mu, stats.sigma, stats.mu, stats.sigma)) < 1e-6
    values = []
    for noise in (0.1, 0.5, 1.0, 2.0):
        other = feats + noise * rng.standard_normal(feats.shape)
        values.append(frechet_distance(stats.mu, stats.sigma, other.mean(0), np.cov(other, rowvar=False)))
    assert values == sorted(values) and values[0] > 0


def test_kid_is_unbiased_and_detects_a_shift():
    # Over independent pairs of samples of one distribution, the estimates average to 0 (unbiased).
    rng = np.random.default_rng(3)
    draws = [kernel_inception_distance(rng.standard_normal((40, 8)), rng.standard_normal((40, 8)), subsets=1)[0]
             for _ in range(300)]  # fmt: skip
    assert abs(np.mean(draws)) < 4 * np.std(draws) / math.sqrt(len(draws))
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((400, 8))
    same, _ = kernel_inception_distance(a, b, subsets=10, subset_size=200)
    shifted, _ = kernel_inception_distance(a, b + 1.0, subsets=10, subset_size=200)
    assert shifted > 0.1 and shifted > 20 * abs(same)


def test_inception_score_closed_forms():
    assert inception_score(torch.zeros(100, 1008))[0] == pytest.approx(1.0)
    confident = torch.full((100, 10), -1e4)
    confident[torch.arange(100), torch.arange(100) % 10] = 0  # each split holds every class once
    mean, std = inception_score(confident, splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std < 1e-6


def test_stats_npz_round_trip(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3)
    save_stats(tmp_path / "s.npz", mu, sigma)
    mu2, sigma2 = load_stats(tmp_path / "s.npz")
    np.testing.assert_array_equal(mu, mu2)
    np.testing.assert_array_equal(sigma, sigma2)
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(UserError, match=r"bad\.npz"):
        load_stats(tmp_path / "bad.npz")


# --- PSNR / SSIM ----------------------------------------------------------------------------------


def _pair(seed=0, shape=(40, 50, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)
    return a, b


def test_psnr_hand_computed():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[0, 0] = 16  # MSE = 256 / 16 = 16
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(255**2 / 16))
    assert psnr(a, a).item() == math.inf


def test_read_only_arrays_score_as_writable_ones_without_a_warning():
    """A PIL image's NumPy view is read-only; scoring it must not warn (PyTorch's non-writable array warning)."""
    a, b = _pair()
    frozen_a, frozen_b = a.copy(), b.copy()
    frozen_a.setflags(write=False)
    frozen_b.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = psnr(frozen_a, frozen_b).item(), ssim(frozen_a, frozen_b).item()
    assert scores == (psnr(a, b).item(), ssim(a, b).item())


def test_psnr_and_ssim_match_scikit_image_on_rgb():
    metrics = pytest.importorskip("skimage.metrics")
    a, b = _pair()
    assert psnr(a, b).item() == pytest.approx(metrics.peak_signal_noise_ratio(a, b, data_range=255), rel=1e-12)
    reference = metrics.structural_similarity(
        a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(a, b).item() == pytest.approx(reference, abs=1e-8)
    assert ssim(a, a).item() == pytest.approx(1.0)


def test_y_channel_is_bt601_and_crop_border_applies():
    rgb = torch.tensor([255.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert rgb_to_y(rgb).item() == pytest.approx(16 + 65.481)
    assert rgb_to_y(torch.full((1, 3, 1, 1), 255.0)).item() == pytest.approx(235.0, abs=1e-3)
    a, b = _pair(1)
    b[:4] = 0  # damage only the border rows
    assert psnr(a, b, crop_border=4) > psnr(a, b)
    coefficients = np.array([65.481, 128.553, 24.966]) / 255  # BT.601 on [0, 255] values
    ya, yb = 16 + a.astype(np.float64) @ coefficients, 16 + b.astype(np.float64) @ coefficients
    expected = 10 * math.log10(255**2 / np.mean((ya - yb) ** 2))
    assert psnr(a, b, y_channel=True).item() == pytest.approx(expected, rel=1e-12)


def test_module_forms_and_batches():
    a, b = _pair(2)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    assert PSNR(crop_border=2)(ta, tb).shape == (2,)
    assert SSIM(y_channel=True)(ta, tb)[0].item() == pytest.approx(ssim(a, b, y_channel=True).item())


# --- the FID network and its weights ------------------------------------------------------------


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A weights file with the published key names; random values (the real file cannot be downloaded here)."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 1.5)
            m.running_mean.normal_(0, 0.1)
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("weights") / FID_WEIGHTS_FILE
    torch.save(state, path)
    return path


def test_extractor_loads_published_keys_and_round_trips(random_weights, tmp_path):
    model = load_fid_inception(random_weights)
    x = torch.rand(2, 3, 299, 299)
    features, logits = model(x)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    torch.save(model.state_dict(), tmp_path / "again.pth")
    again, _ = load_fid_inception(tmp_path / "again.pth")(x)
    assert torch.equal(features, again)


def test_extractor_rejects_other_weights(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="not the FID Inception weights"):
        load_fid_inception(tmp_path / "other.pth")


def test_offline_without_weights_names_file_url_hash_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(download.urllib.request, "urlopen", _refuse_network)
    with pytest.raises(UserError) as e:
        load_fid_inception()
    message = str(e.value)
    for fragment in (FID_WEIGHTS_FILE, "https://github.com/mseitzer", "6726825d", str(tmp_path)):
        assert fragment in message
    assert "\n" not in message


def _refuse_network(*args, **kwargs):
    raise download.urllib.error.URLError("network is unreachable")


def _images(folder, n, seed, size=(64, 48)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3)).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.mark.slow
def test_fid_equals_pytorch_fid_with_the_same_weights_file(random_weights, tmp_path, monkeypatch):
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    a, b = _images(tmp_path / "a", 6, 0), _images(tmp_path / "b", 6, 1)
    # pytorch-fid loads its weights from the torch hub cache: put the same file there.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    (tmp_path / "hub/hub/checkpoints").mkdir(parents=True)
    (tmp_path / "hub/hub/checkpoints" / FID_WEIGHTS_FILE).write_bytes(random_weights.read_bytes())
    reference = fid_score.calculate_fid_given_paths([str(a), str(b)], 3, "cpu", 2048, num_workers=0)
    extractor = InceptionExtractor(random_weights)
    fa, fb = (folder_features(f, extractor, batch_size=3).features for f in (a, b))
    ours = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
    assert ours == pytest.approx(reference, rel=1e-3)


def test_clean_resize_differs_from_legacy_only_by_antialiasing():
    x = torch.rand(1, 3, 64, 64)
    assert resize_for_inception(x, "legacy").shape == resize_for_inception(x, "clean").shape == (1, 3, 299, 299)
    big = torch.rand(1, 3, 600, 600)
    assert not torch.allclose(resize_for_inception(big, "legacy"), resize_for_inception(big, "clean"))


def test_cli_eval_fid_kid_is_with_weights_and_json(random_weights, tmp_path, capsys):
    a, b = _images(tmp_path / "a", 4, 0, (40, 40)), _images(tmp_path / "b", 4, 1, (40, 40))
    common = ["--weights", str(random_weights), "--device", "cpu", "--json"]
    assert main(["eval", "fid", str(a), str(b), *common, "--save-stats", str(tmp_path / "a.npz")]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["n_a"] == 4 and row["resize"] == "legacy" and row["fid"] > 0
    assert main(["eval", "fid", str(tmp_path / "a.npz"), str(a), *common]) == 0
    assert abs(json.loads(capsys.readouterr().out)["fid"]) < 1e-6 * row["fid"]  # the saved stats are a's
    assert main(["eval", "kid", str(a), str(b), *common, "--subsets", "5"]) == 0
    assert {"kid", "kid_std", "subset_size"} <= json.loads(capsys.readouterr().out).keys()
    assert main(["eval", "is", str(a), *common, "--splits", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["is"] >= 1.0


def test_cli_eval_psnr_ssim_pairs_by_name(tmp_path, capsys):
    for name, seed in (("sr", 0), ("hr", 0)):
        _images(tmp_path / name, 2, seed, (24, 24))
    assert main(["eval", "psnr", str(tmp_path / "sr"), str(tmp_path / "hr"), "--json", "--y-channel",
                 "--crop-border", "4"]) == 0  # fmt: skip
    row = json.loads(capsys.readouterr().out)
    assert row["psnr"] == math.inf and row["crop_border"] == 4 and row["channel"].startswith("Y")
    Image.new("RGB", (10, 10)).save(tmp_path / "sr/0.png")
    assert main(["eval", "ssim", str(tmp_path / "sr"), str(tmp_path / "hr")]) == 2
    assert "0.png" in capsys.readouterr().err


# --- downloads against a local server ---------------------------------------------------------


def test_download_with_good_checksum_caches_the_file(http_server, tmp_path, monkeypatch):
    root, url = http_server
    payload = bytes(range(256)) * 1000
    (root / "w.pth").write_bytes(payload)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    sha = download.hashlib.sha256(payload).hexdigest()
    path = download.cached_download(f"{url}/w.pth", "w.pth", sha[:8])
    assert path.read_bytes() == payload and path.parent == download.cache_dir()
    (root / "w.pth").unlink()  # a second call must not touch the network
    assert download.cached_download(f"{url}/w.pth", "w.pth", sha[:8]) == path


def test_download_with_bad_checksum_leaves_nothing_in_the_cache(http_server, tmp_path, monkeypatch):
    root, url = http_server
    (root / "w.pth").write_bytes(b"tampered")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    with pytest.raises(UserError, match="checksum mismatch"):
        download.cached_download(f"{url}/w.pth", "w.pth", "0" * 64)
    assert not list(download.cache_dir().iterdir())


# --- evaluation during training ---------------------------------------------------------------


def test_sample_distance_is_zero_for_the_real_images_and_positive_for_noise():
    from core_gan.metrics.digits import DigitCNN, DigitFeatures
    from core_gan.metrics.generator import SampleDistance

    torch.manual_seed(0)
    real = torch.rand(200, 1, 32, 32) * 2 - 1
    evaluator = SampleDistance(DigitFeatures(DigitCNN()), real, n=200)
    same = evaluator(lambda n: real[:n])
    other = evaluator(lambda n: torch.zeros(n, 1, 32, 32))
    assert abs(same["fd"]) < 1e-6 and other["fd"] > 1e-3 and other["kid"] > same["kid"]


def test_eval_every_writes_metrics_rows(tmp_path, capsys):
    args = ["train", "gan", "--data", "ring8", "--out", str(tmp_path / "r"), "--steps", "4", "--batch-size", "16",
            "--hidden", "8", "--eval-every", "2", "--log-every", "2", "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "r/metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/modes" in r]
    assert [r["step"] for r in evals] == [2, 4] and 0 <= evals[0]["eval/high_quality"] <= 1


def test_translation_quality_figures_on_known_images():
    from core_gan.data.builders import photo_and_edges
    from core_gan.metrics.translation_quality import colour_error, edge_f1, gradient_energy, grid_energy

    yy, xx = np.mgrid[0:64, 0:64]
    wave = np.rint(128 + 60 * np.cos(2 * np.pi * xx / 64)).astype(np.uint8)  # period 64: off the lattice
    smooth = np.stack([wave] * 3, axis=2)
    checker = np.where((yy + xx) % 2 == 0, 160, 96).astype(np.uint8)[..., None].repeat(3, axis=2)
    assert grid_energy(smooth) < 1e-3 * grid_energy(checker)  # all of a checkerboard sits on the lattice
    assert colour_error(smooth, smooth) == 0
    grey, white = np.full((32, 32, 3), 128, np.uint8), np.full((32, 32, 3), 255, np.uint8)
    assert colour_error(grey, white) == pytest.approx(100 - 53.59, abs=0.1)  # L* of sRGB 128 is 53.59
    assert gradient_energy(grey) < 1e-5 < gradient_energy(smooth)  # (kornia adds eps = 1e-6 under the root)
    photo = np.zeros((96, 96, 3), np.uint8)
    photo[24:72, 24:72] = 220  # a bright square on black
    photo, edges = photo_and_edges(Image.fromarray(photo))
    assert edge_f1(edges, photo) == 1.0  # the recipe run again on the photo finds its own edges
    assert edge_f1(edges, np.roll(photo, 2, axis=1)) == 1.0  # within the 2 px tolerance
    assert edge_f1(edges, np.roll(photo, 12, axis=1)) < 0.8
    assert edge_f1(edges, np.full_like(photo, 90)) == 0.0  # nothing drawn
