"""Each loss against its closed form, and the game-theoretic facts the papers rest on."""

import math

import pytest
import torch
from torch import nn

from core_gan import losses as L

LOGITS_REAL = torch.tensor([2.0, -1.0, 0.5])
LOGITS_FAKE = torch.tensor([-3.0, 0.0, 1.5])


def sig(x):
    return 1 / (1 + math.exp(-x))


def mean(values):
    return sum(values) / len(values)


def test_minimax_d_loss_is_negative_value_function():
    expected = -mean([math.log(sig(r)) for r in LOGITS_REAL]) - mean([math.log(1 - sig(f)) for f in LOGITS_FAKE])
    assert L.minimax_d_loss(LOGITS_REAL, LOGITS_FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_generator_losses_closed_forms():
    assert L.minimax_g_loss(LOGITS_FAKE).item() == pytest.approx(mean([math.log(1 - sig(f)) for f in LOGITS_FAKE]))
    assert L.nonsaturating_g_loss(LOGITS_FAKE).item() == pytest.approx(-mean([math.log(sig(f)) for f in LOGITS_FAKE]))
    assert L.lsgan_g_loss(LOGITS_FAKE).item() == pytest.approx(0.5 * mean([(f - 1) ** 2 for f in LOGITS_FAKE]))
    assert L.wgan_g_loss(LOGITS_FAKE).item() == pytest.approx(-mean(LOGITS_FAKE.tolist()))
    assert L.hinge_g_loss(LOGITS_FAKE).item() == pytest.approx(-mean(LOGITS_FAKE.tolist()))


def test_discriminator_losses_closed_forms():
    r, f = LOGITS_REAL.tolist(), LOGITS_FAKE.tolist()
    lsgan = 0.5 * (mean([(x - 1) ** 2 for x in r]) + mean([x**2 for x in f]))
    assert L.lsgan_d_loss(LOGITS_REAL, LOGITS_FAKE).item() == pytest.approx(lsgan)
    assert L.wgan_d_loss(LOGITS_REAL, LOGITS_FAKE).item() == pytest.approx(mean(f) - mean(r))
    hinge = mean([max(0, 1 - x) for x in r]) + mean([max(0, 1 + x) for x in f])
    assert L.hinge_d_loss(LOGITS_REAL, LOGITS_FAKE).item() == pytest.approx(hinge)


def _grad_wrt_logit(loss_fn, logit):
    x = torch.tensor([logit], requires_grad=True)
    loss_fn(x).backward()
    return x.grad.abs().item()


def test_saturating_loss_gradient_vanishes_when_d_rejects_fakes():
    # D(G(z)) -> 0 means logits -> -inf: log(1 - D) saturates, -log D does not (Goodfellow et al. §3).
    sat = [_grad_wrt_logit(L.minimax_g_loss, v) for v in (-2.0, -6.0, -12.0)]
    ns = [_grad_wrt_logit(L.nonsaturating_g_loss, v) for v in (-2.0, -6.0, -12.0)]
    assert sat[0] > sat[1] > sat[2] and sat[2] < 1e-5
    assert min(ns) > 0.8


def test_optimal_discriminator_on_a_discrete_toy():
    # With free per-point logits, minimising D's loss gives D*(x) = p_data(x) / (p_data(x) + p_g(x)).
    p_data = torch.tensor([0.5, 0.3, 0.2, 0.0])
    p_g = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = torch.zeros(4, requires_grad=True)
    opt = torch.optim.LBFGS([logits], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        # Expectations over the discrete distributions, written as weighted per-point losses.
        loss = (p_data * nn.functional.softplus(-logits)).sum() + (p_g * nn.functional.softplus(logits)).sum()
        loss.backward()
        return loss

    opt.step(closure)
    d_star = torch.sigmoid(logits).detach()
    expected = p_data / (p_data + p_g)
    assert torch.allclose(d_star[:3], expected[:3], atol=1e-4)
    assert d_star[3] < 1e-3


def test_wgan_weight_clipping_bounds_every_parameter():
    critic = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    nn.init.normal_(critic[0].weight, 0, 1)
    L.clip_weights(critic, 0.01)
    for p in critic.parameters():
        assert p.abs().max() <= 0.01 + 1e-9
    assert any(p.abs().max().item() == pytest.approx(0.01) for p in critic.parameters())


def test_gradient_penalty_with_known_gradient_norm():
    # critic(x) = w . x has gradient w everywhere, so the penalty is lambda (||w|| - 1)^2 exactly.
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5
    critic = lambda x: x @ w  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert L.gradient_penalty(critic, real, fake, weight=10).item() == pytest.approx(10 * 16.0)
    unit = lambda x: x @ (w / 5)  # noqa: E731
    assert L.gradient_penalty(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_is_differentiable_in_the_critic():
    lin = nn.Linear(2, 1)
    penalty = L.gradient_penalty(lambda x: lin(x).squeeze(1), torch.randn(8, 2), torch.randn(8, 2))
    penalty.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_r1_penalty_closed_form():
    w = torch.tensor([1.0, 2.0, 2.0])  # ||w||^2 = 9
    assert L.r1_penalty(lambda x: x @ w, torch.randn(5, 3), gamma=4).item() == pytest.approx(0.5 * 4 * 9)


def test_ganloss_module_matches_functions_and_rejects_unknown():
    assert L.GANLoss("hinge").d_loss(LOGITS_REAL, LOGITS_FAKE) == L.hinge_d_loss(LOGITS_REAL, LOGITS_FAKE)
    assert L.GANLoss("minimax").g_loss(LOGITS_FAKE) == L.minimax_g_loss(LOGITS_FAKE)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        L.GANLoss("wasserstein")


@pytest.mark.parametrize("kind", L.LOSSES)
def test_losses_accept_patch_maps(kind):
    loss = L.GANLoss(kind)
    real, fake = torch.randn(2, 1, 30, 30), torch.randn(2, 1, 30, 30)
    assert loss.d_loss(real, fake).dim() == 0 and loss.g_loss(fake).dim() == 0
