"""Datasets built from Debian packages: fetched with ``apt-get download`` and unpacked with
``dpkg-deb -x`` into the destination, nothing installed system-wide. A recipe (JSON, in
``datasets/``) names, per package, which files are photographs, inside which containers
(``.edj``, ``.rcc``: core_gan.data.containers), and what to leave out; the licence and author of
each photo come from the package's Debian copyright file (DEP-5), and photos whose licence does not
allow free redistribution (NC, ND) are left out. The split is by source photo: each photo lands in
one of train / val / test by a hash of its name, so no photo is in two splits and a rebuild gives
the same split."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from core_gan.checkpoint import atomic_write, write_json
from core_gan.data.containers import largest_jpeg, rcc_files
from core_gan.errors import UserError

RESERVED = ("opencv-doc", "labelme")
"""Packages kept for independent evaluation: a recipe that names them is refused."""
NON_FREE = re.compile(r"\b(NC|ND)\b|non-?commercial|no-?deriv", re.IGNORECASE)


@dataclass(frozen=True)
class Stanza:
    """One ``Files:`` paragraph of a DEP-5 copyright file."""

    patterns: tuple[str, ...]
    copyright: str
    licence: str


def parse_copyright(text: str) -> list[Stanza]:
    """The ``Files:`` paragraphs of a machine-readable Debian copyright file, in order."""
    stanzas = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = ""
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key].append(line.strip())
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = [value.strip()]
        if "files" in fields:
            patterns = " ".join(fields["files"]).split()
            holders = "; ".join(line for line in fields.get("copyright", ["unknown"]) if line) or "unknown"
            licence = fields.get("license", ["unknown"])[0] or "unknown"  # its first line names it
            stanzas.append(Stanza(tuple(patterns), holders, licence))
    return stanzas


def parse_readme(text: str, folder: str) -> dict[str, Stanza]:
    """gcompris's per-folder READMEs: paragraphs of ``Copyright:``, ``License:``, ``Source:`` and
    ``Files:`` followed by one file name a line; keys are the files' paths (``folder/name``)."""
    found = {}
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        in_files = False
        for line in paragraph.splitlines():
            key, colon, value = line.partition(":")
            if colon and key.strip().lower() in ("copyright", "license", "source", "files"):
                fields[key.strip().lower()] = value.strip()
                in_files = key.strip().lower() == "files"
                files += value.split() if in_files else []
            elif in_files and line.strip():
                files.append(line.strip())
        source = f" ({fields['source']})" if fields.get("source") else ""
        stanza = Stanza(tuple(files), fields.get("copyright", "unknown") + source, fields.get("license", "unknown"))
        found.update({f"{folder}/{name}" if folder else name: stanza for name in files})
    return found


def covers(pattern: str, path: str) -> bool:
    """Copyright files name source-tree paths, installed files sit elsewhere: a pattern matches the
    path's end, and a pattern naming one file (no wildcard in its last part) matches that file name."""
    name = pattern.rsplit("/", 1)[-1]
    if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, f"*/{pattern}"):
        return True
    return "/" in pattern and not any(c in name for c in "*?[") and path.rsplit("/", 1)[-1] == name


def attribution(path: str, stanzas: list[Stanza]) -> Stanza | None:
    """The stanza that covers ``path``: the last that matches, as DEP-5 says."""
    found = None
    for stanza in stanzas:
        if any(covers(p, path) for p in stanza.patterns):
            found = stanza
    return found


@dataclass(frozen=True)
class PackageRule:
    """Which files of one package are photographs: ``include`` globs (relative to the package root),
    ``container`` (``edj``, ``rcc`` or none) with ``members`` globs inside it, ``exclude`` globs
    (on a file or ``file!member`` name), and ``licence`` / ``author`` where the copyright file says
    nothing more precise (e.g. gcompris's per-folder READMEs)."""

    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    container: str = ""
    members: tuple[str, ...] = ("*",)
    licence: str = ""
    author: str = ""


@dataclass(frozen=True)
class CorpusRecipe:
    packages: dict[str, PackageRule]
    min_side: int = 512
    val: float = 0.1
    test: float = 0.1
    notes: list[str] = field(default_factory=list)


def load_recipe(path: Path) -> CorpusRecipe:
    raw = json.loads(path.read_text())
    packages = {
        name: PackageRule(**{k: tuple(v) if isinstance(v, list) else v for k, v in rule.items()})
        for name, rule in raw["packages"].items()
    }
    reserved = sorted(set(packages) & set(RESERVED))
    if reserved:
        raise UserError(f"{path}: {', '.join(reserved)} are reserved for independent evaluation; never train on them")
    return CorpusRecipe(packages, raw.get("min_side", 512), raw.get("val", 0.1), raw.get("test", 0.1),
                        raw.get("notes", []))  # fmt: skip


def fetch_packages(names: list[str], folder: Path) -> dict[str, Path]:
    """Each package downloaded (``apt-get download``) and unpacked (``dpkg-deb -x``) into ``folder``."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise UserError(f"{tool} is not available: the offline photo corpus is built from Debian packages")
    debs = folder / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [n for n in names if not list(debs.glob(f"{n}_*.deb"))]
    if missing:
        done = subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
            raise UserError(f"apt-get download {' '.join(missing)}: failed ({reason})")
    roots = {}
    for name in names:
        deb = sorted(debs.glob(f"{name}_*.deb"))[-1]
        root = folder / "packages" / name
        if not (root / "usr").is_dir():
            root.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
                raise UserError(f"dpkg-deb -x {deb}: failed ({reason})")
        roots[name] = root
    return roots


@dataclass(frozen=True)
class Photo:
    """``name``: the file's path in the package, with ``!member`` for a file inside a container;
    ``credit``: the attribution the container itself gives (a README beside the member), if any."""

    package: str
    name: str
    data: bytes
    suffix: str
    credit: Stanza | None = None


def package_photos(package: str, root: Path, rule: PackageRule) -> Iterator[Photo]:
    """The photographs ``rule`` selects in the unpacked package at ``root``."""

    def excluded(name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in rule.exclude)

    paths = sorted({p for pattern in rule.include for p in root.glob(pattern) if p.is_file()})
    for path in paths:
        name = path.relative_to(root).as_posix()
        if excluded(name):
            continue
        data = path.read_bytes()
        if rule.container == "edj":
            yield Photo(package, name, largest_jpeg(data, str(path)), ".jpg")
        elif rule.container == "rcc":
            members = dict(rcc_files(data, str(path)))
            credits: dict[str, Stanza] = {}
            for member, content in members.items():
                if Path(member).name == "README":
                    credits.update(parse_readme(content.decode("utf-8", "replace"), str(Path(member).parent)))
            for member, content in members.items():
                inner = f"{name}!{member}"
                if any(fnmatch.fnmatch(member, m) for m in rule.members) and not excluded(inner):
                    yield Photo(package, inner, content, Path(member).suffix.lower(), credits.get(member))
        else:
            yield Photo(package, name, data, path.suffix.lower())


def split_of(photo: Photo, recipe: CorpusRecipe) -> str:
    """train / val / test by a hash of the photo's package and name: stable across rebuilds."""
    u = int(hashlib.sha256(f"{photo.package}/{photo.name}".encode()).hexdigest()[:8], 16) / 16**8
    return "test" if u < recipe.test else "val" if u < recipe.test + recipe.val else "train"


def file_name(photo: Photo) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(photo.name.replace("!", "/")).stem)
    digest = hashlib.sha256(photo.name.encode()).hexdigest()[:6]
    return f"{photo.package}__{stem}_{digest}{photo.suffix}"


def build_corpus(recipe_path: Path, dest: Path, roots: dict[str, Path] | None = None) -> dict[str, Any]:
    """The corpus in ``dest``: ``train/``, ``val/``, ``test/`` photos, ``ATTRIBUTION.md`` and
    ``manifest.json`` (counts, megapixels, what was left out and why). ``roots``: unpacked packages
    already at hand (else they are fetched into ``dest/.debian``)."""
    t0 = time.perf_counter()
    recipe = load_recipe(recipe_path)
    roots = roots or fetch_packages(list(recipe.packages), dest / ".debian")
    rows, left_out = [], []
    counts = {"train": 0, "val": 0, "test": 0}
    megapixels = 0.0
    for package, rule in recipe.packages.items():
        copyright_file = roots[package] / "usr" / "share" / "doc" / package / "copyright"
        stanzas = parse_copyright(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
        for photo in package_photos(package, roots[package], rule):
            stanza = photo.credit or attribution(photo.name.split("!")[-1], stanzas)
            licence = rule.licence or (stanza.licence if stanza else "unknown")
            author = rule.author or (stanza.copyright if stanza else "unknown")
            if NON_FREE.search(licence) or licence == "unknown":
                left_out.append({"photo": f"{package}/{photo.name}", "why": f"licence {licence}"})
                continue
            try:
                with Image.open(io.BytesIO(photo.data)) as image:
                    width, height = image.size
                    image.verify()
            except Exception as e:  # any decoder failure: the file is not a usable image
                left_out.append({"photo": f"{package}/{photo.name}", "why": f"unreadable ({e})"})
                continue
            if min(width, height) < recipe.min_side:
                left_out.append({"photo": f"{package}/{photo.name}", "why": f"{width}x{height} is small"})
                continue
            split = split_of(photo, recipe)
            name = file_name(photo)
            atomic_write(dest / split / name, lambda tmp, data=photo.data: tmp.write_bytes(data))
            counts[split] += 1
            megapixels += width * height / 1e6
            rows.append((split, name, package, photo.name, author, licence))
    write_attribution(dest / "ATTRIBUTION.md", rows)
    manifest = {"photos": sum(counts.values()), "megapixels": round(megapixels, 1), "splits": counts,
                "build_seconds": round(time.perf_counter() - t0, 1), "left_out": left_out,
                "notes": recipe.notes}  # fmt: skip
    write_json(dest / "manifest.json", manifest)
    return manifest


def write_attribution(path: Path, rows: list[tuple[str, ...]]) -> None:
    """One row per photo: where it is, where it came from, who made it and under which licence."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Attribution",
        "",
        "Every photo of this corpus, with its author and licence as the Debian package's copyright file",
        "states them (CC-BY and CC-BY-SA require this attribution when the photos are shared).",
        "",
        "| file | package | source path | author | licence |",
        "|---|---|---|---|---|",
        *(f"| {s}/{n} | {p} | {cell(src)} | {cell(a)} | {cell(lic)} |" for s, n, p, src, a, lic in sorted(rows)),
    ]
    atomic_write(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
