"""The data the bundled models learn from: scene crops at the scales users upload, the hue rule that
splits CycleGAN's two domains, and held-out splits that stay held out."""

import json
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from PIL import Image

from gansuite.training import data_path
from recipes import bundled


def solid(rgb: tuple[int, int, int], fraction: float, rest=(128, 128, 128), side: int = 64) -> np.ndarray:
    """An image whose first ``fraction`` of rows is ``rgb`` and the rest ``rest``."""
    image = np.empty((side, side, 3), np.uint8)
    image[:] = rest
    image[: round(fraction * side)] = rgb
    return image


def test_the_hue_rule_names_green_and_warm_scenes():
    foliage, autumn = (40, 160, 40), (200, 90, 20)
    assert bundled.domain(solid(foliage, 0.5)) == "A"
    assert bundled.domain(solid(autumn, 0.5)) == "B"
    assert bundled.domain(solid(foliage, 0.2)) is None, "under 25 % green"
    assert bundled.domain(solid(autumn, 0.3)) is None, "under 35 % warm"
    mixed = solid(foliage, 0.5, rest=autumn)
    assert bundled.domain(mixed) is None, "both palettes: neither domain"
    assert bundled.domain(solid((40, 40, 40), 0.9)) is None, "dark pixels count for neither"
    green, warm = bundled.hue_fractions(solid(foliage, 0.25))
    assert abs(green - 0.25) < 0.02 and warm == 0


def test_scene_crops_cover_the_app_view_and_larger_scales():
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (600, 900, 3), np.uint8))
    crops = bundled.scene_crops(photo, np.random.default_rng(0))
    assert len(crops) == sum(bundled.SCALES.values())
    assert {c.size for c in crops} == {(256, 256)}
    centre = photo.resize((384, 256), Image.Resampling.LANCZOS).crop((64, 0, 320, 256))
    assert np.abs(np.asarray(crops[0], int) - np.asarray(centre, int)).max() <= 2, "the first is the app's view"


def test_domains_come_from_the_train_scenes_and_hold_out_val_and_test(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "RUNS", tmp_path / "runs")
    scenes = tmp_path / "scenes"
    for split, colours in {"train": [(40, 160, 40), (200, 90, 20), (128, 128, 128)], "val": [(40, 160, 40)],
                           "test": [(200, 90, 20)]}.items():  # fmt: skip
        (scenes / split).mkdir(parents=True)
        for k, rgb in enumerate(colours):
            Image.fromarray(solid(rgb, 0.6)).save(scenes / split / f"{split}{k}.png")
    root = bundled.prepare_domains(scenes)
    listing = {p.parent.name + "/" + p.name for p in root.glob("*/*.png")}
    assert listing == {"trainA/train0.png", "trainB/train1.png", "testA/val0.png", "testB/test0.png"}


def test_a_recipe_trains_its_missing_init_run_first_and_its_card_counts_the_unbundled_base(tmp_path, monkeypatch):
    trained = []

    def fake_fit(run, out):
        trained.append(Path(out).name)
        out = tmp_path / trained[-1]
        out.mkdir(exist_ok=True)
        safetensors.torch.save_file({"w": torch.ones(2)}, out / "model.safetensors")
        (out / "model.json").write_text("{}")
        (out / "config.json").write_text(json.dumps({"params": {"G": 2}}))
        (out / "metrics.jsonl").write_text(json.dumps({"step": 100, "time": 60.0}) + "\n")

    monkeypatch.setattr(bundled, "RUNS", tmp_path)
    monkeypatch.setattr(bundled, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(bundled, "fit", fake_fit)
    prepared = []
    monkeypatch.setitem(bundled.PREPARE, str(bundled.SR_DATA / "train"), prepared.append)
    bundled.train("srgan-x4", tmp_path, retrain=True)
    assert prepared == [tmp_path] * 4, "each run cuts its --data from the corpus (a no-op once it is there)"
    assert trained == ["srresnet-x4-base", "srresnet-x4-ft", "srresnet-x4", "srgan-x4"]
    bundled.train("srgan-x4", tmp_path, retrain=True)
    assert trained[4:] == ["srgan-x4"], "runs already there are not trained again"
    assert bundled.chain("srresnet-x4") == ["srresnet-x4-base", "srresnet-x4-ft", "srresnet-x4"]
    assert bundled.chain("srgan-x4") == ["srgan-x4"], "srresnet-x4 has its own card"
    assert bundled.chain("edges2photo") == [
        "edges2photo-base",
        "edges2photo-gradient",
        "edges2photo-colour",
        "edges2photo-l1",
        "edges2photo-colour600",
        "edges2photo-nohints",
        "edges2photo-hints",
        "edges2photo",
    ]
    assert bundled.command_line("srresnet-x4").startswith("gansuite train srresnet --data runs/bundled/")
    card = json.loads((bundled.export("srresnet-x4", "", tmp_path / "srresnet-x4") / "training.json").read_text())
    assert (card["steps"], card["train_minutes"], card["command"].count("gansuite train srresnet")) == (300, 3.0, 3)


def test_every_recipe_reads_a_built_in_dataset_or_data_cut_from_the_corpus():
    for name, (_, run) in (bundled.RECIPES | bundled.BASES).items():
        data = data_path(run.data)
        assert data == "digits" or data in bundled.PREPARE, f"{name}: nothing prepares --data {data}"


def test_an_earlier_bundled_model_stands_in_for_its_chain(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "RUNS", tmp_path)
    stand_in = tmp_path / "edges2photo-nohints"
    stand_in.mkdir()
    (stand_in / "training.json").write_text(json.dumps({"steps": 16300, "train_minutes": 341.5, "command": "old"}))
    assert bundled.chain("edges2photo") == ["edges2photo-nohints", "edges2photo-hints", "edges2photo"]
    assert bundled.command_line("edges2photo-nohints") == "old"
    assert bundled.last_figures(stand_in) == {"step": 16300, "time": 341.5 * 60}
    (stand_in / "metrics.jsonl").write_text(json.dumps({"step": 5, "time": 1.0}) + "\n")  # trained here: a run
    assert bundled.chain("edges2photo")[0] == "edges2photo-base"
