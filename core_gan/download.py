"""Download-and-cache with checksums: pretrained weights and datasets, never at import time."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

import torch
from tqdm import tqdm

from core_gan.errors import UserError

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_matches(actual: str, expected: str) -> bool:
    """``expected`` is a full sha256 or a prefix of one (torch hub's ``name-<prefix>.pth`` convention)."""
    return actual.startswith(expected.lower())


def cache_dir() -> Path:
    """Where weights are cached: ``$TORCH_HOME/hub/checkpoints`` (torch hub's own cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def download(
    url: str, dest: str | Path, sha256: str, *, progress: bool = True, timeout: float = 30, flag: str = "--weights"
) -> Path:
    """Fetch ``url`` to ``dest``, resuming a partial ``dest.part``, and verify its sha256 before use.

    The file appears at ``dest`` only complete and verified; a bad checksum removes the partial file
    and raises. Offline, the error names the file, the URL, the hash and where to put the file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # the partial file is already complete
            return _verify_and_publish(part, dest, url, sha256)
        raise UserError(f"{dest.name}: download from {url} failed (HTTP {e.code})") from e
    except (urllib.error.URLError, OSError) as e:
        raise UserError(
            f"{dest.name}: cannot download {url} ({getattr(e, 'reason', e)}); fetch it elsewhere "
            f"(sha256 {sha256}...) and put it at {dest}, or pass its path with {flag}"
        ) from e
    with response:
        resumed = offset > 0 and response.status == 206
        total = response.length + (offset if resumed else 0) if response.length is not None else None
        with (
            open(part, "ab" if resumed else "wb") as f,
            tqdm(total=total, initial=offset if resumed else 0, unit="B", unit_scale=True,
                 desc=dest.name, disable=not progress) as bar,
        ):  # fmt: skip
            for block in iter(lambda: response.read(CHUNK), b""):
                f.write(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    return _verify_and_publish(part, dest, url, sha256)


def _verify_and_publish(part: Path, dest: Path, url: str, sha256: str) -> Path:
    """Check the hash (a file with no published hash is accepted and its hash printed to record)."""
    actual = sha256_of(part)
    if not sha256:
        print(f"{dest.name}: no published checksum; sha256 {actual}")
    elif not hash_matches(actual, sha256):
        part.unlink(missing_ok=True)
        raise UserError(f"{dest.name}: checksum mismatch for {url} (expected {sha256}..., got {actual}); removed")
    os.replace(part, dest)
    return dest


def cached_download(
    url: str, filename: str, sha256: str, override: str | Path | None = None, flag: str = "--weights"
) -> Path:
    """``override`` (given with ``flag``) if given, else the cached file, else download it into the cache."""
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise UserError(f"{flag} {path}: no such file")
        return path
    cached = cache_dir() / filename
    if cached.is_file():
        return cached
    return download(url, cached, sha256, flag=flag)
