"""Dataset builders, the catalog, resumed downloads and safe extraction."""

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core_gan import download
from core_gan.data import catalog
from core_gan.data.builders import EdgeConfig, edge_map
from core_gan.errors import UserError
from gansuite.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "datasets" / "samples" / "photos"


def _square_photo(size=64):
    photo = np.zeros((size, size, 3), np.uint8)
    photo[16:48, 16:48] = 255
    return photo


def test_edge_map_draws_black_lines_on_white_at_the_boundaries():
    sketch = edge_map(_square_photo(), EdgeConfig(size=64))
    assert sketch.shape == (64, 64, 3) and set(np.unique(sketch)) == {0, 255}
    lines = sketch[:, :, 0] == 0
    assert lines[14:18, 20:44].any() and lines[46:50, 20:44].any(), "edges along the square's sides"
    assert not lines[:8].any() and not lines[28:36, 28:36].any(), "flat regions stay white"


def test_small_fragments_are_removed_and_dilation_thickens():
    photo = _square_photo()
    photo[4, 4] = 255  # a one-pixel speck
    thin = edge_map(photo, EdgeConfig(min_fragment=20))[:, :, 0] == 0
    assert not thin[:10, :10].any()
    thick = edge_map(_square_photo(), EdgeConfig(dilate=1))[:, :, 0] == 0
    assert thick.sum() > thin.sum()


def test_cli_edges_combine_and_sr_crops(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    Image.fromarray(_square_photo(80)).save(tmp_path / "photos/sq.jpg")
    assert main(["data", "edges", str(tmp_path / "photos"), str(tmp_path / "pairs"), "--size", "32"]) == 0
    with Image.open(tmp_path / "pairs/sq.png") as im:
        assert im.size == (64, 32)
    for side, value in (("A", 10), ("B", 200)):
        (tmp_path / side).mkdir()
        Image.new("RGB", (8, 8), (value,) * 3).save(tmp_path / side / "x.png")
    assert main(["data", "combine", str(tmp_path / "A"), str(tmp_path / "B"), str(tmp_path / "AB")]) == 0
    combined = np.asarray(Image.open(tmp_path / "AB/x.png"))
    assert combined.shape == (8, 16, 3) and combined[0, 0, 0] == 10 and combined[0, 15, 0] == 200
    (tmp_path / "hr").mkdir()
    Image.new("RGB", (100, 70)).save(tmp_path / "hr/big.png")
    assert main(["data", "sr-crops", str(tmp_path / "hr"), str(tmp_path / "sub"), "--size", "48", "--step", "24"]) == 0
    assert len(list((tmp_path / "sub").iterdir())) == 2 * 4  # rows 0, 22; cols 0, 24, 48, 52
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "facades" in out and "horse2zebra" in out and "DIV2K" in out


def test_catalog_names_the_standard_sets():
    names = set(catalog.load_catalog())
    assert {"facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day", "horse2zebra",
            "apple2orange", "summer2winter_yosemite", "monet2photo", "cezanne2photo", "ukiyoe2photo",
            "vangogh2photo", "iphone2dslr_flower", "DIV2K", "Set5", "Set14", "BSD100", "Urban100"} <= names  # fmt: skip


def test_download_resumes_an_interrupted_transfer(http_server, tmp_path):
    root, url = http_server
    payload = np.random.default_rng(0).bytes(300_000)
    (root / "data.bin").write_bytes(payload)
    dest = tmp_path / "out/data.bin"
    dest.parent.mkdir()
    (tmp_path / "out/data.bin.part").write_bytes(payload[:123_456])  # what an interrupted run left
    download.download(f"{url}/data.bin", dest, hashlib.sha256(payload).hexdigest(), progress=False)
    assert dest.read_bytes() == payload and not (tmp_path / "out/data.bin.part").exists()


def test_download_rejects_a_bad_checksum_and_keeps_no_partial_file(http_server, tmp_path):
    root, url = http_server
    (root / "data.bin").write_bytes(b"x" * 1000)
    with pytest.raises(UserError, match="checksum mismatch"):
        download.download(f"{url}/data.bin", tmp_path / "data.bin", "ab" * 32, progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def _tar_with(path, name, data=b"x", link=None):
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tf.addfile(info)
        else:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_safe_extract_refuses_path_traversal_and_outside_links(tmp_path):
    _tar_with(tmp_path / "evil.tar.gz", "../escaped.txt")
    with pytest.raises(UserError, match="escapes"):
        catalog.safe_extract(tmp_path / "evil.tar.gz", tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
    _tar_with(tmp_path / "link.tar.gz", "data/passwd", link="/etc/passwd")
    with pytest.raises(UserError, match="outside"):
        catalog.safe_extract(tmp_path / "link.tar.gz", tmp_path / "dest")
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../../zip_escaped.txt", "x")
    with pytest.raises(UserError, match="refused member"):
        catalog.safe_extract(tmp_path / "evil.zip", tmp_path / "dest")
    _tar_with(tmp_path / "good.tar.gz", "facades/train/1.jpg", b"jpeg")
    catalog.safe_extract(tmp_path / "good.tar.gz", tmp_path / "dest")
    assert (tmp_path / "dest/facades/train/1.jpg").read_bytes() == b"jpeg"


def test_data_download_end_to_end_from_a_local_server(http_server, tmp_path, monkeypatch, capsys):
    root, url = http_server
    _tar_with(root / "tiny.tar.gz", "tiny/train/a.jpg", b"img")
    digest = hashlib.sha256((root / "tiny.tar.gz").read_bytes()).hexdigest()
    entries = [{"name": "tiny", "task": "paired", "url": f"{url}/tiny.tar.gz", "size": "1 KB", "sha256": digest,
                "layout": "", "licence": "test"}]  # fmt: skip
    (tmp_path / "catalog.json").write_text(__import__("json").dumps({"datasets": entries}))
    monkeypatch.setattr(catalog, "CATALOG", tmp_path / "catalog.json")
    assert main(["data", "download", "tiny", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data/tiny/train/a.jpg").read_bytes() == b"img"
    assert main(["data", "download", "nope", str(tmp_path / "data")]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def _kornia_edge_map(photo, config):
    """The edge recipe as it was: kornia's own iterative hysteresis and dilation."""
    import kornia
    import scipy.ndimage
    import torch

    gray = kornia.color.rgb_to_grayscale(torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None].float() / 255)
    sigma = (config.sigma, config.sigma)
    _, edges = kornia.filters.canny(gray, config.low, config.high, kernel_size=config.kernel_size, sigma=sigma)
    if config.dilate:
        edges = kornia.morphology.dilation(edges, torch.ones(2 * config.dilate + 1, 2 * config.dilate + 1))
    mask = edges[0, 0].numpy() > 0.5
    labels, count = scipy.ndimage.label(mask, structure=np.ones((3, 3)))
    mask &= np.bincount(labels.ravel(), minlength=count + 1)[labels] >= config.min_fragment
    return np.repeat(np.where(mask, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


@pytest.mark.parametrize("config", [EdgeConfig(), EdgeConfig(dilate=1), EdgeConfig(low=0.05, high=0.3, min_fragment=1)])
def test_edge_map_equals_kornias_iterative_hysteresis(config):
    photos = [np.asarray(Image.open(p).convert("RGB").resize((160, 160))) for p in sorted(SAMPLES.glob("*.jpg"))[:3]]
    rng = np.random.default_rng(0)
    noise = (rng.random((8, 8, 3)) * 255).astype(np.uint8).repeat(12, 0).repeat(12, 1)
    for photo in [*photos, noise, _square_photo()]:
        assert np.array_equal(edge_map(photo, config), _kornia_edge_map(photo, config))
