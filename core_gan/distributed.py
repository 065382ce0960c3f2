"""Data-parallel training on torch.distributed: one process per device, started by ``torchrun``.

``torchrun --nproc_per_node=N -m gansuite train ...`` sets RANK, LOCAL_RANK and WORLD_SIZE;
:func:`distributed_session` turns them into a process group (NCCL on CUDA, gloo on CPU). Without
them, everything here is a no-op for a single process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core_gan.errors import UserError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, samples and metrics."""
        return self.rank == 0


def current_world() -> World:
    if not dist.is_available() or not dist.is_initialized():
        return World()
    return World(dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0)), dist.get_world_size())


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def distributed_session(device: str = "auto") -> Iterator[World]:
    """A process group for the duration of a command when launched by ``torchrun``, else a single process.

    The backend follows the device: NCCL when this process trains on a GPU, gloo on the CPU.
    """
    if not launched_by_torchrun() or dist.is_initialized():
        yield current_world()
        return
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        yield current_world()
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device, world: World) -> torch.device:
    """Each process of a multi-GPU run trains on its own GPU (``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and world.size > 1:
        return torch.device("cuda", world.local_rank)
    return device


def wrap_ddp(modules: nn.ModuleDict, device: torch.device, sync_bn: bool) -> nn.ModuleDict:
    """The same networks wrapped in DistributedDataParallel (gradients averaged across processes in
    backward; parameters and buffers broadcast from rank 0 at construction). The unwrapped modules are
    kept by the caller for checkpoints, EMA and inference."""
    wrapped = {}
    for name, module in modules.items():
        if sync_bn:
            if device.type != "cuda":
                raise UserError("--sync-bn needs CUDA (SyncBatchNorm has no CPU kernel); drop it on CPU")
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        ids = [device.index] if device.type == "cuda" else None
        wrapped[name] = DistributedDataParallel(module, device_ids=ids)
    return nn.ModuleDict(wrapped)


def mean_across(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The element-wise mean of ``tensor`` over all processes (itself in a single process)."""
    if world.size == 1:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor / world.size


def gather_objects(obj: object, world: World) -> list[object]:
    """Every process's ``obj``, in rank order."""
    if world.size == 1:
        return [obj]
    out: list[object] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()
