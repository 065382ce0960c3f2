"""The opt-in image terms of core_gan.image_losses against closed forms and the reported metrics."""

import pytest
import torch

from core_gan.image_losses import colour_loss, gradient_map, structure_loss


def test_gradient_map_is_the_length_of_central_differences_and_has_no_sign():
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8) * 0.1  # I = 0.1 x: interior dx = 0.2, dy = 0
    assert torch.allclose(gradient_map(ramp)[..., 1:-1], torch.full((1, 1, 8, 6), 0.2), atol=1e-4)
    step = torch.zeros(2, 3, 8, 8)
    step[..., 4:] = 1.0
    assert torch.equal(gradient_map(step), gradient_map(-step))
    assert gradient_map(torch.ones(1, 3, 5, 5)).max() < 1e-2


def test_blurred_gradient_maps_score_a_step_edge_but_hardly_a_thin_line_traced_along_it():
    step, line = torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 32, 32)
    step[..., 16:] = 1.0
    line[..., 16] = 1.0
    assert gradient_map(line).max() == pytest.approx(gradient_map(step).max().item(), rel=1e-3)
    assert gradient_map(line, sigma=2).max() < 0.3 * gradient_map(step, sigma=2).max()


def test_the_structure_term_is_one_minus_the_ssim_the_benchmarks_report():
    from core_gan.metrics.image_quality import ssim
    from core_gan.pixels import to_255

    torch.manual_seed(0)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    fake = (real + 0.3 * torch.randn_like(real)).clamp(-1, 1)
    reported = ssim(to_255(fake), to_255(real)).mean().item()
    assert structure_loss(fake, real).item() == pytest.approx(1 - reported, abs=2e-3)
    assert structure_loss(real, real).item() == pytest.approx(0, abs=1e-6)


def test_the_colour_term_compares_local_means_and_ignores_texture_within_a_region():
    real = torch.rand(1, 3, 48, 48) * 2 - 1
    checkerboard = 0.5 * (torch.arange(48).view(-1, 1) + torch.arange(48)).remainder(2).mul(2).sub(1)
    assert colour_loss(real + checkerboard, real).item() == pytest.approx(0, abs=1e-10)
    assert colour_loss(real + 0.25, real).item() == pytest.approx(0.25**2, rel=1e-5)
