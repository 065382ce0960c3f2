"""An endless, resumable stream of shuffled batches, shared by every trainer run and every rank."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, TensorDataset, get_worker_info

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


class EpochBatches(Sampler[list[int]]):
    """Index batches forever: epoch e is a permutation seeded by (seed, e), sharded across ranks as
    ``DistributedSampler`` does, and the stream starts ``start`` batches in, so a resumed run sees
    exactly the batches an uninterrupted one would."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, start: int, rank: int, world_size: int) -> None:
        self.per_epoch = steps_per_epoch(dataset, batch_size, world_size)
        self.batch_size = batch_size
        self.start = start
        self.sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, skip = divmod(self.start, self.per_epoch)
        while True:
            self.sampler.set_epoch(epoch)
            indices = list(self.sampler)
            for b in range(skip, self.per_epoch):
                yield indices[b * self.batch_size : (b + 1) * self.batch_size]
            epoch, skip = epoch + 1, 0


def seed_worker(worker_id: int) -> None:
    """Seed numpy, random and the dataset's augmentation RNG from the worker's torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
    info = get_worker_info()
    if info is not None and hasattr(info.dataset, "reseed"):
        info.dataset.reseed(seed)


def batch_stream(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    start_step: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches forever (see :class:`EpochBatches`). In-memory ``TensorDataset``s are indexed directly;
    folders go through one persistent DataLoader with seeded workers."""
    batches = EpochBatches(dataset, batch_size, seed, start_step, rank, world_size)
    if isinstance(dataset, TensorDataset):
        for idx in batches:
            index = torch.tensor(idx)
            yield tuple(t[index] for t in dataset.tensors)
    loader = DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed((seed * 1_000_003 + start_step) * 1_009 + rank),  # workers per rank
    )
    yield from (tuple(b) for b in loader)
