"""DDP on CPU with gloo: two processes started by torchrun train as one process with twice the batch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core_gan.checkpoint import load_checkpoint
from core_gan.distributed import World, mean_across

WORKER = Path(__file__).parent / "helpers" / "ddp_worker.py"


def run_worker(model: str, run: Path, batch: int, steps: int, processes: int, resume: bool = False) -> None:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    command = [*(launcher if processes > 1 else [sys.executable]), str(WORKER), model, str(run), str(batch), str(steps)]
    done = subprocess.run([*command, *(["--resume"] if resume else [])], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def losses(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_ranks_identical(run: Path) -> None:
    rank0, rank1 = (torch.load(run / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the two processes"


@pytest.fixture(scope="module")
def pix2pix_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    run_worker("pix2pix", root / "ddp", batch=2, steps=4, processes=2)
    run_worker("pix2pix", root / "single", batch=4, steps=4, processes=1)
    return root / "ddp", root / "single"


def test_two_processes_keep_identical_weights_and_write_one_checkpoint(pix2pix_runs):
    ddp, _ = pix2pix_runs
    assert_ranks_identical(ddp)
    assert sorted(p.name for p in (ddp / "checkpoints").iterdir()) == ["last.pt"]
    config = json.loads((ddp / "config.json").read_text())
    assert config["world_size"] == 2 and config["global_batch_size"] == 4
    assert len(losses(ddp)) == 4, "only rank 0 writes metrics"


def test_loss_curve_matches_one_process_with_the_same_global_batch(pix2pix_runs):
    ddp, single = pix2pix_runs
    for a, b in zip(losses(ddp), losses(single), strict=True):
        for key in ("D/total", "G/l1", "G/adv"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (a["step"], key)


def test_a_two_process_checkpoint_resumes_in_one_process(pix2pix_runs):
    ddp, _ = pix2pix_runs
    run_worker("pix2pix", ddp, batch=4, steps=6, processes=1, resume=True)
    assert load_checkpoint(ddp / "checkpoints/last.pt")["step"] == 6
    assert [r["step"] for r in losses(ddp)] == [1, 2, 3, 4, 5, 6]


def test_dcgan_parameters_stay_identical_across_processes(tmp_path):
    """(BatchNorm's running statistics are each process's own between broadcasts; rank 0's are saved.)"""
    run_worker("dcgan", tmp_path / "run", batch=4, steps=3, processes=2)
    assert_ranks_identical(tmp_path / "run")
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 3


def test_cut_and_its_lazily_created_patchnce_head_stay_identical_across_processes(tmp_path):
    """F is created on each process from its first batch; DDP gives every process rank 0's, then averages."""
    run_worker("cut", tmp_path / "run", batch=2, steps=3, processes=2)
    assert_ranks_identical(tmp_path / "run")
    assert any(name.startswith("F.") for name in torch.load(tmp_path / "run/rank0.pt", weights_only=True))


def test_mean_across_one_process_is_the_identity():
    t = torch.tensor([1.0, 2.0])
    assert mean_across(t, World()) is t
