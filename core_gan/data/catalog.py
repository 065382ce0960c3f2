"""The catalog of standard datasets (``datasets/catalog.json``), downloads and safe extraction."""

from __future__ import annotations

import json
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core_gan.download import download
from core_gan.errors import UserError

CATALOG = Path(__file__).resolve().parents[2] / "datasets" / "catalog.json"


@dataclass(frozen=True)
class Entry:
    name: str
    task: str
    url: str | None
    size: str | None
    sha256: str | None
    layout: str
    licence: str
    source: str = "url"
    """``url``: an archive at ``url``; ``debian:RECIPE.json``: built from Debian packages by the recipe
    in ``datasets/`` (core_gan.data.debian)."""


def load_catalog(path: Path | None = None) -> dict[str, Entry]:
    path = path or CATALOG
    if not path.is_file():
        raise UserError(f"{path}: the dataset catalog is missing (install gansuite from its repository)")
    return {e["name"]: Entry(**e) for e in json.loads(path.read_text())["datasets"]}


def _inside(root: Path, target: Path) -> bool:
    return target.resolve().is_relative_to(root.resolve())


def safe_extract(archive: str | Path, dest: str | Path) -> None:
    """Extract a .tar(.gz) or .zip into ``dest``, refusing any member that would land outside it
    (absolute paths, ``..``), links pointing outside it, and device or FIFO files."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not _inside(dest, dest / info.filename) or stat.S_ISLNK(info.external_attr >> 16):
                    raise UserError(f"{archive}: refused member {info.filename!r} (escapes {dest} or is a link)")
            zf.extractall(dest)
        return
    try:
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                target = dest / m.name
                if not _inside(dest, target):
                    raise UserError(f"{archive}: refused member {m.name!r}: it escapes {dest}")
                if m.issym() or m.islnk():
                    link = (target.parent / m.linkname) if m.issym() else dest / m.linkname
                    if Path(m.linkname).is_absolute() or not _inside(dest, link):
                        raise UserError(f"{archive}: refused link {m.name!r} -> {m.linkname!r} outside {dest}")
                if m.isdev() or m.isfifo():
                    raise UserError(f"{archive}: refused special file {m.name!r}")
            safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.10.12
            tf.extractall(dest, members=members, **safety)
    except tarfile.TarError as e:
        raise UserError(f"{archive}: not a readable tar or zip archive ({e})") from e


def download_dataset(name: str, dest: str | Path) -> Path:
    """Download (resuming a partial file) and verify a catalog entry, then extract it into ``dest``;
    or build it from Debian packages (``source: debian:...``). Returns the archive (or ``dest``)."""
    catalog = load_catalog()
    if name not in catalog:
        raise UserError(f"unknown dataset {name!r}; see `gansuite data list`")
    entry = catalog[name]
    if entry.source.startswith("debian:"):
        from core_gan.data.debian import build_corpus

        build_corpus(CATALOG.parent / entry.source.removeprefix("debian:"), Path(dest))
        return Path(dest)
    if entry.url is None:
        raise UserError(f"{name}: cannot be downloaded automatically: {entry.licence}")
    dest = Path(dest)
    archive = dest / ".downloads" / Path(entry.url).name
    if not archive.is_file():
        download(entry.url, archive, entry.sha256 or "")
    safe_extract(archive, dest)
    return archive
