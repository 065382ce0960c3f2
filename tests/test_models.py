"""Shapes of every base network at every supported size, and DCGAN's architecture guidelines."""

import pytest
import torch
from torch import nn

from core_gan.models.dcgan import IMAGE_SIZES, DCGANConfig, DCGANDiscriminator, DCGANGenerator
from core_gan.models.mlp import MLPGANConfig
from core_gan.nn import (
    ConditionalBatchNorm2d,
    MinibatchStdDev,
    init_weights,
    norm_layer,
)
from core_gan.speed import DtypeReflectionPad2d, MatmulConv2d, MatmulConvTranspose2d, swap_cpu_layers
from gansuite.registry import MODELS, build
from translation.cut import CUTConfig
from translation.cyclegan import CycleGANConfig
from translation.esrgan import RRDBNetConfig
from translation.pix2pix import Pix2PixConfig
from translation.srgan import SRResNetConfig

# One tiny config per registered model: a model added without one fails test_every_registered_model.
TINY = {
    "gan": MLPGANConfig(data_shape=(2,), latent_dim=4, hidden=8, layers=2),
    "dcgan": DCGANConfig(image_size=32, channels=1, latent_dim=8, ngf=4, ndf=4),
    "cgan": DCGANConfig(image_size=32, channels=1, latent_dim=8, ngf=4, ndf=4, num_classes=3),
    "pix2pix": Pix2PixConfig(netG="unet_32", ngf=4, ndf=4),
    "cyclegan": CycleGANConfig(netG="resnet_1blocks", ngf=4, ndf=4),
    "cut": CUTConfig(netG="resnet_1blocks", ngf=4, ndf=4),
    "fastcut": CUTConfig(netG="resnet_1blocks", ngf=4, ndf=4, antialias=False),
    "srresnet": SRResNetConfig(scale=2, features=4, blocks=1),
    "srgan": SRResNetConfig(scale=2, features=4, blocks=1),
    "esrgan": RRDBNetConfig(features=4, blocks=1, growth=2),
}


def _forward(name, config, G, D, n=4):
    """D's logits on G's output for a batch of n (G's output alone without a D), whatever the inputs are."""
    if name in ("srresnet", "srgan", "esrgan"):
        sr = G(torch.rand(n, 3, 8, 8) * 2 - 1)
        return D(sr) if D is not None else sr
    if MODELS[name].data == "unpaired":
        return D(G(torch.rand(n, 3, 32, 32) * 2 - 1))
    if name == "pix2pix":
        x = torch.rand(n, 3, 32, 32) * 2 - 1
        return D(torch.cat([x, G(x)], dim=1))
    z = torch.randn(n, config.latent_dim)
    if getattr(config, "num_classes", 0):
        y = torch.arange(n) % config.num_classes
        return D(G(z, y), y)
    return D(G(z))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_runs_forward_and_backward(name):
    assert name in TINY, f"add a tiny config for {name!r} to TINY"
    config = TINY[name]
    generators, discriminators = build(name, config)
    # CycleGAN's G_AB feeds D_B; every other model has one G and one D (SRResNet has none).
    G = generators["G_AB"] if "G_AB" in generators else generators["G"]
    D = next(iter(discriminators.values()), None) if "D_B" not in discriminators else discriminators["D_B"]
    logits = _forward(name, config, G, D)
    assert logits.shape[0] == 4 and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters() if p.requires_grad)
    assert D is None or all(p.grad is not None for p in D.parameters() if p.requires_grad)


@pytest.mark.parametrize("size", IMAGE_SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_and_range(size, channels):
    config = DCGANConfig(image_size=size, channels=channels, latent_dim=8, ngf=4, ndf=4)
    G, D = DCGANGenerator(config), DCGANDiscriminator(config)
    x = G(torch.randn(2, 8))
    assert x.shape == (2, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (2,)


def test_dcgan_128_adds_a_block():
    blocks = {s: len(DCGANGenerator(DCGANConfig(image_size=s, ngf=4)).convs) for s in IMAGE_SIZES}
    assert blocks == {32: 3, 64: 4, 128: 5}


def test_dcgan_follows_the_papers_guidelines():
    config = DCGANConfig(image_size=64, ngf=8, ndf=8)
    G, D = DCGANGenerator(config), DCGANDiscriminator(config)
    for net in (G, D):
        kinds = {type(m) for m in net.modules()}
        assert not kinds & {nn.MaxPool2d, nn.AvgPool2d, nn.Linear}, "no pooling, no fully connected layers"
    assert all(isinstance(c, nn.ConvTranspose2d) for c in G.convs)
    assert all(isinstance(n, nn.BatchNorm2d) for n in G.norms)  # BN everywhere but the output layer
    assert isinstance(G.to_image, nn.ConvTranspose2d)
    first, *rest = D.features
    assert not any(isinstance(m, nn.BatchNorm2d) for m in first.modules()), "no BN on D's input layer"
    assert all(any(isinstance(m, nn.BatchNorm2d) for m in stage.modules()) for stage in rest)
    assert all(any(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2 for m in s.modules()) for s in D.features)
    assert all(c.stride == (2, 2) for stage in D.features for c in stage.modules() if isinstance(c, nn.Conv2d))


@pytest.mark.parametrize("conditioning", ["concat", "projection", "acgan"])
def test_cgan_conditioning_variants(conditioning):
    config = DCGANConfig(
        image_size=32, channels=1, latent_dim=8, ngf=4, ndf=4, num_classes=5, conditioning=conditioning
    )
    G, D = DCGANGenerator(config), DCGANDiscriminator(config)
    y = torch.tensor([0, 1, 2, 4])
    x = G(torch.randn(4, 8), y)
    if conditioning == "acgan":
        assert D(x).shape == (4,) and D.classify(x).shape == (4, 5)
    else:
        a, b = D(x, y), D(x, (y + 1) % 5)
        assert a.shape == (4,) and not torch.allclose(a, b), "D's score must depend on the label"


def test_conditional_bn_generator_depends_on_the_label():
    config = DCGANConfig(image_size=32, channels=1, latent_dim=8, ngf=4, num_classes=3, conditional_bn=True)
    G = DCGANGenerator(config)
    assert any(isinstance(m, ConditionalBatchNorm2d) for m in G.modules())
    for m in G.modules():
        if isinstance(m, ConditionalBatchNorm2d):
            nn.init.normal_(m.gamma.weight, 1, 0.5)
    G.eval()
    z = torch.randn(1, 8).repeat(2, 1)
    out = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(out[0], out[1])


def test_conditional_generator_requires_labels():
    G = DCGANGenerator(DCGANConfig(image_size=32, ngf=4, num_classes=3))
    with pytest.raises(ValueError, match="class-conditional"):
        G(torch.randn(2, 100))


def test_dcgan_init_is_normal_002():
    G = DCGANGenerator(DCGANConfig(image_size=64, ngf=32))
    init_weights(G)
    w = torch.cat([c.weight.flatten() for c in G.convs])
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    gamma = torch.cat([n.weight for n in G.norms])
    assert gamma.mean().item() == pytest.approx(1.0, abs=0.01)


def test_norm_choices_and_unknown_norm():
    assert isinstance(norm_layer("batch", 4), nn.BatchNorm2d)
    assert isinstance(norm_layer("instance", 4), nn.InstanceNorm2d)
    assert isinstance(norm_layer("none", 4), nn.Identity)
    with pytest.raises(ValueError, match="unknown norm"):
        norm_layer("group", 4)


def test_minibatch_stddev_feature():
    layer = MinibatchStdDev()
    same = torch.ones(4, 3, 2, 2)
    assert layer(same).shape == (4, 4, 2, 2)
    assert layer(same)[:, 3].max() < 1e-3, "a collapsed batch has zero spread"
    x = torch.tensor([[0.0, 0.0], [2.0, 4.0]])  # per-feature std 1 and 2 -> mean 1.5
    assert torch.allclose(layer(x)[:, 2], torch.full((2,), 1.5), atol=1e-4)


def test_spectral_norm_option_bounds_the_weight():
    config = DCGANConfig(image_size=32, ndf=4, spectral_norm=True, d_norm="none")
    D = DCGANDiscriminator(config)
    for _ in range(20):  # power iterations converge in training mode
        D(torch.randn(2, 3, 32, 32))
    conv = D.features[1][0]
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("layer", [MatmulConv2d, MatmulConvTranspose2d])
@pytest.mark.parametrize("size", [(2, 2), (3, 5), (16, 16)])
def test_matmul_on_small_cpu_maps_is_the_library_convolution(layer, size):
    """The U-Net's small-map path (im2col/col2im + a matrix product) against the library's kernel:
    values and every gradient."""
    torch.manual_seed(0)
    conv = layer(24, 8, 4, 2, 1, bias=True)
    x = torch.randn(2, 24, *size, requires_grad=True)
    results = []
    for matmul in (True, False):
        conv.matmul_small_maps = matmul
        x.grad = conv.weight.grad = conv.bias.grad = None
        out = conv(x)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        results.append((out.detach(), x.grad, conv.weight.grad, conv.bias.grad))
    for fast, reference in zip(*results, strict=True):
        torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-4)  # float32 sums in another order


def test_reflection_pad_keeps_the_autocast_dtype():
    """Under bf16 autocast the library pads a bf16 map in fp32; ours returns the same values in bf16,
    and a ResNet generator built from it computes what it computes in fp32 (to bf16 rounding)."""
    x = torch.randn(1, 4, 6, 7).to(torch.bfloat16)
    with torch.autocast("cpu", torch.bfloat16):
        library, ours = nn.ReflectionPad2d(2)(x), DtypeReflectionPad2d(2)(x)
    assert library.dtype == torch.float32 and ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), library, rtol=0, atol=0)
    torch.manual_seed(0)
    gens, _ = build("cyclegan", CycleGANConfig(ngf=8, netG="resnet_6blocks"))
    G, image = gens["G_AB"], torch.rand(1, 3, 32, 32) * 2 - 1
    reference = G(image)
    swap_cpu_layers(G)
    assert sum(type(m) is DtypeReflectionPad2d for m in G.modules()) == 2 + 2 * 6
    with torch.autocast("cpu", torch.bfloat16):
        fast = G(image)
    torch.testing.assert_close(fast.float(), reference, rtol=0, atol=0.05)


def test_cpu_swaps_change_only_the_u_nets_convolutions_and_keep_the_weights():
    """The networks are plain layers; the swap gives a U-Net its small-map convolutions in place (same
    parameters, same state-dict keys, same outputs) and leaves the PatchGAN's convolutions alone."""
    torch.manual_seed(0)
    generators, discriminators = build("pix2pix", Pix2PixConfig(netG="unet_32", ngf=4, ndf=4))
    G, D = generators["G"], discriminators["D"]
    assert not any(isinstance(m, MatmulConv2d | MatmulConvTranspose2d) for m in [*G.modules(), *D.modules()])
    keys, x = list(G.state_dict()), torch.rand(1, 3, 32, 32) * 2 - 1
    G.eval()
    before = G(x)
    swap_cpu_layers(G)
    swap_cpu_layers(D)
    assert sum(isinstance(m, MatmulConv2d) for m in G.modules()) == 5 and list(G.state_dict()) == keys
    assert sum(isinstance(m, MatmulConvTranspose2d) for m in G.modules()) == 5
    assert not any(isinstance(m, MatmulConv2d) for m in D.modules())
    torch.testing.assert_close(G(x), before, rtol=1e-4, atol=1e-5)
