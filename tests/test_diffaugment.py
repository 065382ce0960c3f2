"""DiffAugment's transforms against their definitions (Zhao et al. 2020)."""

import torch

from core_gan.diffaugment import color, cutout, diff_augment, translation


def _images(b=6, h=16, w=20):
    torch.manual_seed(0)
    return torch.rand(b, 3, h, w) * 1.6 - 0.8  # no exact zeros


def _shifted(image, dy, dx):
    """``image`` moved down by dy and right by dx, zeros where nothing moved in."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    out[:, max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = image[
        :, max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)
    ]
    return out


def test_translation_moves_each_image_by_whole_pixels_within_an_eighth_and_fills_zeros():
    x = _images()
    y = translation(x)
    shifts = set()
    for image, moved in zip(x, y, strict=True):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-3, 4) if torch.equal(_shifted(image, dy, dx), moved)]
        assert len(found) == 1, "one shift of itself: at most 16/8 = 2 rows, 20/8 -> 3 columns"
        shifts.add(found[0])
    assert len(shifts) > 1, "the shift is drawn per image"


def test_cutout_zeroes_one_square_of_half_the_size_clipped_at_the_border():
    x = _images(b=32)
    y = cutout(x)
    cut = y == 0
    assert torch.equal(y[~cut], x[~cut]), "outside the square nothing changes"
    assert torch.equal(cut[:, :1].expand_as(cut), cut), "the same square in every channel"
    rows, cols = cut[:, 0].any(2), cut[:, 0].any(1)
    for r, c, square in zip(rows, cols, cut[:, 0], strict=True):
        assert square.sum() == r.sum() * c.sum(), "a rectangle"
        assert 1 <= r.sum() <= 8 and 1 <= c.sum() <= 10, "at most half the height and width"
    full = (rows.sum(1) == 8) & (cols.sum(1) == 10)
    assert full.any() and not full.all(), "whole squares inside, clipped ones at the border"


def test_color_keeps_grey_grey_and_moves_a_flat_image_by_its_brightness_draw_only():
    torch.manual_seed(1)
    grey = torch.rand(8, 1, 12, 12).expand(8, 3, 12, 12) - 0.5
    out = color(grey)
    assert torch.allclose(out, out[:, :1].expand_as(out)), "saturation has nothing to change in grey"
    flat = torch.full((8, 3, 4, 4), 0.1)
    torch.manual_seed(2)
    brightness = torch.rand(8, 1, 1, 1) - 0.5
    torch.manual_seed(2)
    assert torch.allclose(color(flat), flat + brightness, atol=1e-6), "contrast and saturation keep a flat image"


def test_none_is_the_identity_and_every_policy_passes_gradients():
    x = _images().requires_grad_()
    assert diff_augment(x, "none") is x
    y = diff_augment(x, "translation+cutout")
    y.sum().backward()
    kept = x.grad > 0
    assert kept.any() and kept.float().mean() < 1, "pixels moved out or cut out get no gradient"
    assert torch.equal(x.grad[kept], torch.ones_like(x.grad[kept])), "the pixels D sees pass theirs through"
    z = _images().requires_grad_()
    diff_augment(z, "color+translation+cutout").square().sum().backward()
    assert z.grad.abs().sum() > 0
