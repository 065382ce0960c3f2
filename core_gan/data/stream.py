"""An endless, resumable stream of shuffled batches, shared by every trainer run and every rank."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from core_gan.errors import UserError


def steps_per_epoch(dataset: Dataset, batch_size: int, world_size: int = 1) -> int:
    """Full batches per epoch on each rank (the last partial batch is dropped)."""
    n = len(dataset) // world_size // batch_size  # type: ignore[arg-type]
    if n == 0:
        raise UserError(
            f"the dataset has {len(dataset)} items, fewer than one batch of {batch_size} "  # type: ignore[arg-type]
            f"per process x {world_size}; lower --batch-size"
        )
    return n


def batch_stream(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    start_step: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches forever; epoch e is a permutation seeded by (seed, e), so a resume at ``start_step``
    sees exactly the batches an uninterrupted run would, on any rank.

    In-memory ``TensorDataset``s are indexed directly (no per-item Python calls).
    """
    per_epoch = steps_per_epoch(dataset, batch_size, world_size)
    epoch, skip = divmod(start_step, per_epoch)
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    while True:
        sampler.set_epoch(epoch)
        indices = list(sampler)[: per_epoch * batch_size]
        batches = [indices[i : i + batch_size] for i in range(skip * batch_size, len(indices), batch_size)]
        if isinstance(dataset, TensorDataset):
            for idx in batches:
                index = torch.tensor(idx)
                yield tuple(t[index] for t in dataset.tensors)
        else:
            loader = DataLoader(dataset, batch_sampler=batches, num_workers=num_workers, persistent_workers=False)
            yield from (tuple(b) for b in loader)
        epoch, skip = epoch + 1, 0
