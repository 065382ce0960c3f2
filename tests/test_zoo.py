"""The reference pix2pix/CycleGAN zoo: files in the published layout import, translate like the
reference networks, are refused when they do not fit, and download with their digest recorded."""

import numpy as np
import pytest
import torch
from helpers.reference_nets import ResnetGenerator, UnetGenerator, randomised
from PIL import Image

from apps.common import load_models, model_card
from apps.unpaired import direction_choices
from core_gan.errors import UserError
from core_gan.pixels import from_uint8, to_uint8
from gansuite import zoo
from gansuite.cli import main
from gansuite.inference import Translator


@pytest.fixture
def photo(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "photo.png")
    return tmp_path / "photo.png", image


def reference_output(net: torch.nn.Module, image: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return to_uint8(net(from_uint8(image)[None]))[0]


def grey_levels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def test_pix2pix_unet_imports_and_translates_as_the_reference(tmp_path, photo):
    reference = randomised(UnetGenerator())
    torch.save(reference.state_dict(), tmp_path / "latest_net_G.pth")
    run = tmp_path / "facades"
    argv = ["weights", "import", "pix2pix-facades_label2photo", "--from", str(tmp_path / "latest_net_G.pth")]
    assert main([*argv, "--out", str(run)]) == 0
    path, image = photo
    assert main(["translate", str(run), str(path), "--out", str(tmp_path / "o"), "--no-paper-test-mode"]) == 0
    ours = np.asarray(Image.open(tmp_path / "o/00000_photo_output.png"))
    expected = reference_output(reference, image)
    assert expected.std() > 5, "random weights that give a flat image would hide a wrong mapping"
    assert grey_levels(ours, expected) <= 1
    # By default the run is used as the reference zoo was evaluated: batch statistics and dropout on.
    model = Translator(run)
    assert model.paper_test_mode and "batch statistics and dropout on" in model_card(run)
    torch.manual_seed(3)
    noisy = model(image)
    torch.manual_seed(3)
    assert grey_levels(noisy, reference_output(reference.train(), image)) <= 1
    assert "Jun-Yan Zhu" in (run / "LICENSE").read_text()


def test_cyclegan_resnet_with_old_instance_norm_buffers(tmp_path, photo):
    reference = randomised(ResnetGenerator())
    state = reference.state_dict()
    for i in (2, 5, 8):  # what PyTorch < 0.4 saved for InstanceNorm layers
        state[f"model.{i}.running_mean"] = torch.zeros(state[f"model.{i - 1}.weight"].shape[0])
        state[f"model.{i}.running_var"] = torch.ones(state[f"model.{i - 1}.weight"].shape[0])
    state["model.10.conv_block.2.running_mean"] = torch.zeros(256)
    torch.save(state, tmp_path / "horse2zebra.pth")
    run = tmp_path / "h2z"
    assert main(["weights", "import", "cyclegan-horse2zebra", "--from", str(tmp_path / "horse2zebra.pth"),
                 "--out", str(run)]) == 0  # fmt: skip
    _, image = photo
    small = image[:64, :96]
    assert grey_levels(Translator(run)(small), reference_output(reference, small)) <= 1
    with pytest.raises(UserError, match="holds only the generator for AtoB"):
        Translator(run, direction="BtoA")
    assert main(["export", str(run), "--format", "safetensors", "--out", str(tmp_path / "g.safetensors")]) == 0
    models = load_models([str(run)], bundled=False)
    assert list(models.unpaired["h2z"]) == ["AtoB"]
    assert direction_choices(models, "h2z") == [("horse → zebra", "AtoB")]


def test_a_file_that_does_not_fit_is_refused_naming_the_key(tmp_path, capsys):
    state = randomised(ResnetGenerator()).state_dict()
    state["model.10.conv_block.1.weight"] = torch.zeros(256, 256, 3, 1)
    torch.save(state, tmp_path / "bad.pth")
    argv = ["weights", "import", "cyclegan-zebra2horse", "--from", str(tmp_path / "bad.pth"), "--out"]
    assert main([*argv, str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "model.10.conv_block.1.weight has shape (256, 256, 3, 1)" in err and "\n" not in err
    del state["model.10.conv_block.1.weight"]
    state["model.99.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    assert main([*argv, str(tmp_path / "run")]) == 2
    assert "model.99.weight is not in the reference cyclegan generator's layout" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_download_records_the_digest_then_refuses_a_changed_file(tmp_path, http_server, monkeypatch, capsys):
    root, url = http_server
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(zoo, "CYCLEGAN_URL", url + "/{file}.pth")
    torch.save(randomised(ResnetGenerator()).state_dict(), root / "style_monet.pth")
    assert main(["weights", "import", "cyclegan-style_monet"]) == 0
    out = capsys.readouterr().out
    cached = zoo.cache_dir() / "gansuite-zoo" / "cyclegan-style_monet.pth"
    digest = zoo.sha256_of(cached)
    assert f"recorded sha256 {digest}" in out
    assert zoo.digest_file(cached).read_text().split()[0] == digest
    assert main(["weights", "import", "cyclegan-style_monet"]) == 0
    assert f"sha256 {digest} (as recorded)" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert "* cyclegan-style_monet" in capsys.readouterr().out
    cached.write_bytes(cached.read_bytes()[:-1] + b"x")
    assert main(["weights", "import", "cyclegan-style_monet"]) == 2
    assert f"differs from {digest}, recorded at its first download" in capsys.readouterr().err
    cached.unlink()  # the server's file changed since the digest was recorded
    torch.save(randomised(ResnetGenerator(), seed=1).state_dict(), root / "style_monet.pth")
    assert main(["weights", "import", "cyclegan-style_monet"]) == 2
    assert "checksum mismatch" in capsys.readouterr().err and not cached.exists()


def test_every_zoo_entry_names_its_network_and_url():
    assert len([n for n in zoo.ZOO if n.startswith("pix2pix-")]) == 6
    assert len([n for n in zoo.ZOO if n.startswith("cyclegan-")]) == 18
    assert zoo.ZOO["pix2pix-edges2shoes"].url.endswith("/pix2pix/models-pytorch/edges2shoes.pth")
    assert zoo.ZOO["cyclegan-horse2zebra"].url.endswith("/cyclegan/pretrained_models/horse2zebra.pth")
    assert zoo.network_config("pix2pix").netG == "unet_256" and zoo.network_config("pix2pix").dropout
    assert zoo.network_config("cyclegan").netG == "resnet_9blocks" and zoo.network_config("cyclegan").norm == "instance"


def test_the_edges_tab_downloads_a_reference_model_into_its_picker(tmp_path, http_server, monkeypatch):
    from apps.common import AppModels
    from apps.edges2photo import fetch_zoo_model

    root, url = http_server
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(zoo, "PIX2PIX_URL", url + "/{file}.pth")
    models = AppModels()
    with pytest.raises(UserError, match=r"edges2shoes\.pth: download from .* failed \(HTTP 404\)"):
        fetch_zoo_model(models, "pix2pix-edges2shoes")  # the server does not have it
    assert "pix2pix-edges2shoes" not in models.translators
    torch.save(randomised(UnetGenerator()).state_dict(), root / "edges2shoes.pth")
    picker = fetch_zoo_model(models, "pix2pix-edges2shoes")
    assert picker.value == "pix2pix-edges2shoes" and "pix2pix-edges2shoes" in models.translators
    assert "imported from pix2pix-edges2shoes.pth" in models.cards["pix2pix-edges2shoes"]
    cached = zoo.cache_dir() / "gansuite-zoo" / "pix2pix-edges2shoes.pth"
    cached.write_bytes(cached.read_bytes()[:-1] + b"x")  # changed since its digest was recorded
    with pytest.raises(UserError, match=r"differs from .*recorded at its first download"):
        fetch_zoo_model(models, "pix2pix-edges2shoes")
