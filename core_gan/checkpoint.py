"""Writing that never leaves a half file, and loading that never runs code from a file."""

from __future__ import annotations

import functools
import json
import os
import pickle
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from core_gan.errors import UserError


@functools.cache
def process_umask() -> int:
    """The process's umask, read once at the first write (Linux reports it; elsewhere it is set and
    restored, the only way to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    A crash at any moment leaves either the old file or the new one, never a partial one.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise UserError(f"{path.parent}: cannot write here ({e.strerror})") from e
    os.close(fd)
    tmp = Path(tmp_name)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~process_umask()
    tmp.chmod(mode)  # mkstemp's 0600 is for secrets
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: write failed ({e.strerror}); the previous file is untouched") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_link(source: Path, path: Path) -> None:
    """``path`` becomes another name of the finished file ``source`` (a copy where hard links are
    not supported), replacing the old ``path`` in one rename."""

    def link(tmp: Path) -> None:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)

    atomic_write(path, link)


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n"))


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, what: str = "checkpoint", mmap: bool = False) -> dict[str, Any]:
    """``torch.load(weights_only=True)``: tensors and plain containers only, no code can run. Every
    ``.pt``/``.pth`` file gansuite reads (checkpoints, FID/VGG/Real-ESRGAN weights) comes through here.
    ``mmap``: the tensors stay on disk until touched (to read a checkpoint's step, not its weights)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such {what}")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the {what} is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        raise UserError(f"{path}: refused: not plain weights (not a PyTorch file, or it holds code or objects)") from e
    except Exception as e:  # zip, pickle or tensor-storage errors: torch raises many kinds
        raise UserError(f"{path}: not a readable {what} ({first_line(e)})") from e


def first_line(error: BaseException) -> str:
    """An exception as one line: its message's first line, or its type when the message is empty."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def save_inference(run_dir: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """``model.safetensors`` (the generators' weights) and ``model.json`` (how to rebuild them)."""
    run_dir = Path(run_dir)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(run_dir / "model.safetensors", lambda tmp: safetensors.torch.save_file(contiguous, tmp))
    write_json(run_dir / "model.json", meta)


def load_inference(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    run_dir = Path(run_dir)
    meta_path, weights_path = run_dir / "model.json", run_dir / "model.safetensors"
    for p in (meta_path, weights_path):
        if not p.is_file():
            raise UserError(f"{p}: missing; is {run_dir} a finished gansuite run?")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{meta_path}: not valid JSON ({e})") from e
    try:
        tensors = safetensors.torch.load_file(weights_path)
    except Exception as e:
        raise UserError(f"{weights_path}: not a readable safetensors file ({e})") from e
    return meta, tensors


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, in a form ``weights_only`` loads."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    keys = state["numpy"]["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy"]["pos"], 0, 0.0))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
