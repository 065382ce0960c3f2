"""Built-in data and the resumable batch stream."""

import math

import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from core_gan.data.digits import digits_dataset
from core_gan.data.images import ImageFolder
from core_gan.data.stream import batch_stream
from core_gan.data.toy import mode_coverage, ring8_modes, toy_dataset
from core_gan.errors import UserError


def test_ring8_and_grid25_statistics():
    ring = toy_dataset("ring8", n=8000)
    points, labels = ring.tensors
    assert points.shape == (8000, 2) and labels.max() == 7
    assert torch.allclose(points.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01)
    # 2-D Gaussian: P(|x - mu| < 3 std) = 1 - exp(-9/2) (Rayleigh distribution).
    assert mode_coverage(points, "ring8") == (8, pytest.approx(1 - math.exp(-4.5), abs=0.005))
    offset = (points - ring8_modes()[labels]).std().item()
    assert offset == pytest.approx(0.02, rel=0.05)
    grid = toy_dataset("grid25", n=5000).tensors[0]
    assert mode_coverage(grid, "grid25")[0] == 25
    assert mode_coverage(torch.zeros(10, 2), "ring8") == (0, 0.0)


def test_digits_are_images_in_range_with_ten_classes():
    ds = digits_dataset(32)
    x, y = ds.tensors
    assert x.shape == (1797, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert sorted(y.unique().tolist()) == list(range(10))


def _concat(batches):
    return torch.cat([b[0] for b in batches])


def test_stream_resume_sees_the_same_batches():
    ds = TensorDataset(torch.arange(50).float(), torch.zeros(50))
    full = batch_stream(ds, 8, seed=3)
    first = [next(full) for _ in range(14)]  # crosses two epochs of 6 batches
    resumed = batch_stream(ds, 8, seed=3, start_step=9)
    assert torch.equal(_concat(first[9:]), _concat([next(resumed) for _ in range(5)]))
    epoch0 = _concat(first[:6])
    assert len(set(epoch0.tolist())) == 48, "no repeats inside an epoch"
    assert not torch.equal(epoch0, _concat(first[6:12])), "each epoch is reshuffled"


def test_stream_shards_across_ranks_without_overlap():
    ds = TensorDataset(torch.arange(40).float())
    seen = [_concat([next(batch_stream(ds, 5, rank=r, world_size=2)) for _ in range(1)]) for r in (0, 1)]
    assert not set(seen[0].tolist()) & set(seen[1].tolist())


def test_stream_rejects_a_batch_larger_than_the_data():
    with pytest.raises(UserError, match="fewer than one batch"):
        next(batch_stream(TensorDataset(torch.zeros(3)), 8))


def test_image_folder_classes_modes_and_resize(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(tmp_path / "a/transparent.png")
    Image.new("L", (10, 30), 0).save(tmp_path / "b/gray.jpg")
    Image.new("P", (16, 16)).save(tmp_path / "b/palette.gif")
    ds = ImageFolder(tmp_path, image_size=8)
    assert ds.classes == ["a", "b"] and ds.labels == [0, 1, 1]
    x, y = ds[0]
    assert x.shape == (3, 8, 8) and y == 0
    assert torch.allclose(x, torch.ones_like(x)), "transparent pixels are composited on white"
    assert ds[1][0].shape == (3, 8, 8) and ds[1][0].max() == -1
