"""The offline photo corpus: the .edj and .rcc unpackers, and the recipe's selection, attribution and
split on a fake package tree (no apt in tests)."""

import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core_gan.data import debian
from core_gan.data.catalog import CATALOG, load_catalog
from core_gan.data.containers import largest_jpeg, rcc_files
from core_gan.errors import UserError
from gansuite.cli import main


def jpeg(width: int, height: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def webp(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(buffer, format="WEBP")
    return buffer.getvalue()


def write_rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A Qt resource file (format 2) holding ``files`` (path -> (content, compress)) in one folder."""
    folder = {p.split("/")[0] for p in files}
    assert len(folder) == 1
    names, name_offsets = b"", {}
    for name in [*folder, *(p.split("/")[1] for p in files)]:
        name_offsets[name] = len(names)
        encoded = name.encode("utf-16-be")
        names += struct.pack(">HI", len(name), 0) + encoded
    payload, nodes = b"", []
    nodes.append(struct.pack(">IHIIQ", 0, 2, 1, 1, 0))  # root: one child, node 1
    nodes.append(struct.pack(">IHIIQ", name_offsets[next(iter(folder))], 2, len(files), 2, 0))
    for path, (content, compress) in files.items():
        block = struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
        offset = len(payload)
        payload += struct.pack(">I", len(block)) + block
        nodes.append(struct.pack(">IHHHIQ", name_offsets[path.split("/")[1]], int(compress), 0, 0, offset, 0))
    tree = b"".join(nodes)
    header_size = 20
    tree_at = header_size
    payload_at = tree_at + len(tree)
    names_at = payload_at + len(payload)
    return struct.pack(">4s4I", b"qres", 2, tree_at, payload_at, names_at) + tree + payload + names


def test_largest_jpeg_takes_the_biggest_stream_of_an_edj_file():
    small, big = jpeg(16, 16), jpeg(96, 64, seed=1)
    data = b"eet header" + small + b"\x00dictionary" + big + b"trailing directory"
    assert largest_jpeg(data) == big
    with Image.open(io.BytesIO(largest_jpeg(data))) as image:
        assert image.size == (96, 64)
    with pytest.raises(UserError, match=r"x\.edj: holds no JPEG stream"):
        largest_jpeg(b"no images here", "x.edj")


def test_rcc_files_reads_plain_and_compressed_members():
    photo, readme = webp(32, 24), b"Copyright: Bob\nLicense: CC0-1.0\nFiles:\nphoto.webp\n"
    data = write_rcc({"set/photo.webp": (photo, False), "set/README": (readme, True)})
    assert dict(rcc_files(data)) == {"set/photo.webp": photo, "set/README": readme}
    with pytest.raises(UserError, match="not a Qt resource file"):
        list(rcc_files(b"RIFF....", "x.rcc"))


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2020, Alice Example
License: CC-BY-4.0

Files: backgrounds/nc.jpg
Copyright: 2021, Carol
License: CC-BY-NC-SA-4.0
 Non-commercial text of the licence.
"""


@pytest.fixture
def packages(tmp_path):
    """Three fake unpacked packages: plain files, an .edj theme and an .rcc bundle."""
    a = tmp_path / "pkg" / "photos-a"
    (a / "usr/share/backgrounds").mkdir(parents=True)
    for name, size, seed in (("p1.jpg", (96, 80), 1), ("p2.jpg", (80, 96), 2), ("nc.jpg", (96, 96), 3),
                             ("small.jpg", (32, 32), 4), ("render.jpg", (96, 96), 5)):  # fmt: skip
        (a / "usr/share/backgrounds" / name).write_bytes(jpeg(*size, seed=seed))
    (a / "usr/share/doc/photos-a").mkdir(parents=True)
    (a / "usr/share/doc/photos-a/copyright").write_text(COPYRIGHT)
    b = tmp_path / "pkg" / "theme-b"
    (b / "usr/share/themes").mkdir(parents=True)
    (b / "usr/share/themes/sea.edj").write_bytes(b"eet" + jpeg(16, 16) + b"..." + jpeg(128, 72, seed=6) + b"end")
    c = tmp_path / "pkg" / "bundle-c"
    (c / "usr/share/rcc").mkdir(parents=True)
    readme = b"Copyright: Bob\nLicense: CC0-1.0\nSource: https://example.org/photo\nFiles:\nphoto.webp\n"
    rcc = write_rcc({"set/photo.webp": (webp(100, 70), False), "set/README": (readme, True),
                     "set/icon.svg": (b"<svg/>", False)})  # fmt: skip
    (c / "usr/share/rcc/set.rcc").write_bytes(rcc)
    recipe = {
        "min_side": 64,
        "packages": {
            "photos-a": {"include": ["usr/share/backgrounds/*.jpg"], "exclude": ["*/render.jpg"]},
            "theme-b": {
                "include": ["usr/share/themes/*.edj"],
                "container": "edj",
                "licence": "BSD-2-clause",
                "author": "the theme's authors",
            },
            "bundle-c": {"include": ["usr/share/rcc/*.rcc"], "container": "rcc", "members": ["*.webp"]},
        },
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    roots = {name: tmp_path / "pkg" / name for name in recipe["packages"]}
    return tmp_path / "recipe.json", roots


def test_the_corpus_keeps_photos_with_their_attribution_and_splits_by_photo(packages, tmp_path):
    recipe, roots = packages
    manifest = debian.build_corpus(recipe, tmp_path / "corpus", roots)
    assert manifest["photos"] == 4  # p1, p2, the .edj's large stream, the .rcc's photo
    why = {row["photo"].rsplit("/", 1)[-1]: row["why"] for row in manifest["left_out"]}
    assert why["nc.jpg"].startswith("licence CC-BY-NC-SA") and "small" in why["small.jpg"]
    assert "render.jpg" not in why  # excluded by the recipe, never read
    files = [p for split in ("train", "val", "test") for p in (tmp_path / "corpus" / split).glob("*")]
    assert len(files) == 4 and len({p.name for p in files}) == 4 and sum(manifest["splits"].values()) == 4
    with Image.open(next(p for p in files if "sea" in p.name)) as image:
        assert image.size == (128, 72)
    attribution = (tmp_path / "corpus" / "ATTRIBUTION.md").read_text()
    assert "Alice Example" in attribution and "CC-BY-4.0" in attribution
    assert "Bob (https://example.org/photo) | CC0-1.0" in attribution and "BSD-2-clause" in attribution
    assert "Carol" not in attribution
    again = debian.build_corpus(recipe, tmp_path / "again", roots)
    assert again["splits"] == manifest["splits"]
    for split in ("train", "val", "test"):
        first = sorted(p.name for p in (tmp_path / "corpus" / split).glob("*"))
        assert first == sorted(p.name for p in (tmp_path / "again" / split).glob("*"))


def test_reserved_packages_are_refused(tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"packages": {"opencv-doc": {"include": ["*"]}}}))
    with pytest.raises(UserError, match="opencv-doc are reserved for independent evaluation"):
        debian.load_recipe(tmp_path / "r.json")


def test_the_shipped_recipe_loads_and_names_no_reserved_package():
    entry = load_catalog()["offline-photos"]
    recipe = debian.load_recipe(CATALOG.parent / entry.source.removeprefix("debian:"))
    assert len(recipe.packages) >= 8 and not set(recipe.packages) & set(debian.RESERVED)


def test_without_apt_the_download_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda _tool: None)
    assert main(["data", "download", "offline-photos", str(tmp_path / "photos")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt-get is not available" in err[0]
    assert not any(Path(tmp_path / "photos").glob("*/*"))
