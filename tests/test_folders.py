"""The translation datasets: layouts, identical augmentation of A and B, odd files, SR pairs."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from core_gan.data.folders import PairedFolder, SRFolder, UnpairedFolder, bicubic_downsample
from core_gan.data.images import MAX_PIXELS, ImageFolder, open_image
from core_gan.data.transforms import PREPROCESS, PairedTransformConfig
from core_gan.errors import UserError


def _rgb(seed, w, h):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def _save(array, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


SMALL = PairedTransformConfig(load_size=20, crop_size=16)


@pytest.mark.parametrize("preprocess", PREPROCESS)
def test_side_by_side_pairs_get_identical_crops_and_flips(tmp_path, preprocess):
    half = _rgb(0, 24, 24)
    _save(np.concatenate([half, half], axis=1), tmp_path / "train/0.png")  # A and B equal
    config = PairedTransformConfig(preprocess=preprocess, load_size=20, crop_size=16)
    ds = PairedFolder(tmp_path, "train", transform=config, seed=0)
    for _ in range(10):
        a, b = ds[0]
        assert torch.equal(a, b), "A and B must see the same random crop and flip"
    expected = {"resize_and_crop": 16, "crop": 16, "scale_width": 20, "scale_width_and_crop": 16, "none": 24}
    assert a.shape == (3, expected[preprocess], expected[preprocess])
    assert a.min() >= -1 and a.max() <= 1


def test_paired_defaults_are_the_papers_286_to_256(tmp_path):
    _save(np.concatenate([_rgb(0, 300, 300)] * 2, axis=1), tmp_path / "train/0.jpg")
    a, b = PairedFolder(tmp_path)[0]
    assert a.shape == b.shape == (3, 256, 256)


def test_paired_round_trip_side_by_side_and_direction(tmp_path):
    a, b = _rgb(1, 16, 16), _rgb(2, 16, 16)
    _save(np.concatenate([a, b], axis=1), tmp_path / "train/x.png")
    config = PairedTransformConfig(preprocess="none", flip=False)
    x, y = PairedFolder(tmp_path, "train", transform=config)[0]
    assert torch.allclose((x + 1) * 127.5, torch.from_numpy(a).permute(2, 0, 1).float(), atol=1e-3)
    assert torch.allclose((y + 1) * 127.5, torch.from_numpy(b).permute(2, 0, 1).float(), atol=1e-3)
    x2, y2 = PairedFolder(tmp_path, "train", direction="BtoA", transform=config)[0]
    assert torch.equal(x2, y) and torch.equal(y2, x)


def test_paired_a_b_folders_matched_by_name_and_wrong_size_pair(tmp_path):
    for name in ("1.png", "2.png"):
        _save(_rgb(3, 8, 8), tmp_path / "A/train" / name)
        _save(_rgb(4, 8, 8), tmp_path / "B/train" / name)
    _save(_rgb(5, 8, 8), tmp_path / "A/train/only_in_a.png")
    ds = PairedFolder(tmp_path, "train", transform=PairedTransformConfig(preprocess="none", flip=False), strict=True)
    assert len(ds) == 2
    _save(_rgb(6, 12, 8), tmp_path / "B/train/2.png")
    with pytest.raises(UserError, match=r"2\.png: size 12x8 differs"):
        ds[1]


def test_unpaired_epoch_is_the_larger_domain_and_serial_pairs(tmp_path):
    for i in range(3):
        _save(_rgb(i, 8, 8), tmp_path / f"trainA/{i}.png")
    for i in range(5):
        _save(_rgb(10 + i, 8, 8), tmp_path / f"trainB/{i}.png")
    config = PairedTransformConfig(preprocess="none", flip=False)
    ds = UnpairedFolder(tmp_path, transform=config, serial=True)
    assert len(ds) == 5
    a, b = ds[4]
    assert torch.equal(a, ds[1][0])
    expected_b = torch.from_numpy(_rgb(14, 8, 8)).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(b, expected_b, atol=1e-6)
    with pytest.raises(UserError, match="testA"):
        UnpairedFolder(tmp_path, phase="test")


def test_sr_pairs_lr_is_the_antialiased_bicubic_of_the_hr_crop(tmp_path):
    _save(_rgb(7, 50, 45), tmp_path / "hr/img.png")  # not a multiple of 4: cropped to 48 x 44
    ds = SRFolder(tmp_path / "hr", scale=4, crop=16, seed=0)
    lr, hr = ds[0]
    assert hr.shape == (3, 16, 16) and lr.shape == (3, 4, 4)
    assert torch.equal(lr, bicubic_downsample(hr, 4))
    full_lr, full_hr = SRFolder(tmp_path / "hr", scale=4, train=False)[0]
    assert full_hr.shape == (3, 44, 48) and full_lr.shape == (3, 11, 12)
    reference = torch.nn.functional.interpolate(full_hr[None], scale_factor=0.25, mode="bicubic", antialias=True)
    assert (full_lr - reference[0]).abs().max() <= 1 / 127.5 + 1e-6  # equal up to 8-bit rounding


def test_sr_with_lr_folder_crops_matching_regions(tmp_path):
    lr_full = _rgb(8, 8, 8)
    hr = np.kron(lr_full, np.ones((4, 4, 1), np.uint8))  # constant 4x4 blocks: LR pixel = its HR block
    _save(hr, tmp_path / "HR/a.png")
    _save(lr_full, tmp_path / "LR_x4/a.png")
    ds = SRFolder(tmp_path, scale=4, crop=16, seed=1)
    for _ in range(5):
        lr, hr_crop = ds[0]
        assert torch.equal(lr, hr_crop[:, ::4, ::4])
    _save(_rgb(9, 7, 7), tmp_path / "LR_x4/a.png")
    with pytest.raises(UserError, match=r"is not a\.png / 4"):
        ds[0]


def test_odd_image_kinds_are_converted_explicitly(tmp_path):
    Image.new("CMYK", (4, 4), (0, 255, 0, 0)).save(tmp_path / "cmyk.tif")  # magenta ink
    assert open_image(tmp_path / "cmyk.tif").getpixel((0, 0)) == (255, 0, 255)
    deep = np.full((4, 4), 65535, np.uint16)
    deep[0, 0] = 32768
    Image.fromarray(deep).save(tmp_path / "deep.png")
    im = np.asarray(open_image(tmp_path / "deep.png"))
    assert im.shape == (4, 4, 3) and im[1, 1, 0] == 255 and im[0, 0, 0] == 128, "16-bit scaled, not clipped"
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "alpha.png")
    assert np.asarray(open_image(tmp_path / "alpha.png")).min() == 255
    assert open_image(tmp_path / "alpha.png", keep_alpha=True).mode == "RGBA"
    rotated = Image.new("RGB", (6, 2))
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rotated.save(tmp_path / "exif.jpg", exif=exif)
    assert open_image(tmp_path / "exif.jpg").size == (2, 6)
    Image.new("P", (3, 3)).save(tmp_path / "palette.gif")
    assert open_image(tmp_path / "palette.gif").mode == "RGB"


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("core_gan.data.images.MAX_PIXELS", 100)
    Image.new("RGB", (20, 20)).save(tmp_path / "big.png")
    with pytest.raises(UserError, match=r"big\.png: 20x20 exceeds"):
        open_image(tmp_path / "big.png")
    assert MAX_PIXELS >= 10_000 * 10_000


def test_corrupt_files_are_listed_once_and_skipped_or_stop_with_strict(tmp_path):
    root = tmp_path / "data"
    _save(_rgb(0, 8, 8), root / "good.png")
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("this is text")
    buf = tmp_path / "full.jpg"
    Image.fromarray(_rgb(1, 64, 64)).save(buf, quality=95)
    (root / "truncated.jpg").write_bytes(buf.read_bytes()[: buf.stat().st_size // 2])  # header intact
    Image.fromarray(_rgb(2, 8, 8)).save(root / "png_named.jpg", format="PNG")  # wrong extension: still fine
    with pytest.warns(UserWarning, match="skipping 2 unreadable") as record:
        ds = ImageFolder(root, image_size=8)
    assert len(ds) == 3 and len([w for w in record if "skipping" in str(w.message)]) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        items = [ds[i][0] for i in range(len(ds))]
    assert all(x.shape == (3, 8, 8) for x in items)
    assert any("truncated.jpg" in str(w.message) for w in caught)
    with pytest.raises(UserError, match=r"empty\.jpg"):
        ImageFolder(root, image_size=8, strict=True)
