"""Images kept inside other files, read with plain Python: JPEG streams inside Enlightenment's
``.edj`` (Eet) themes, and the files of Qt's ``.rcc`` resource bundles (some zlib-compressed)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from core_gan.errors import UserError

JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"


def largest_jpeg(data: bytes, source: str = "file") -> bytes:
    """The largest JPEG stream in ``data``: each runs from a start-of-image marker to the last
    end-of-image marker before the next stream (Eet stores one image at several sizes)."""
    starts = []
    at = data.find(JPEG_START)
    while at >= 0:
        starts.append(at)
        at = data.find(JPEG_START, at + 3)
    streams = []
    for start, following in zip(starts, [*starts[1:], len(data)], strict=False):
        end = data.rfind(JPEG_END, start, following)
        if end > start:
            streams.append(data[start : end + 2])
    if not streams:
        raise UserError(f"{source}: holds no JPEG stream")
    return max(streams, key=len)


RCC_MAGIC = b"qres"
RCC_COMPRESSED, RCC_DIRECTORY, RCC_ZSTD = 0x01, 0x02, 0x04


def rcc_files(data: bytes, source: str = "file") -> Iterator[tuple[str, bytes]]:
    """(path, content) of every file in a Qt resource bundle (the ``rcc`` binary format, versions
    1 to 3): a header, a tree of 14-byte nodes (22 from version 2: a modification time follows), a
    table of UTF-16 names and the data blocks, each a 4-byte length then the bytes; a compressed
    block starts with its uncompressed length and is a zlib stream."""
    if data[:4] != RCC_MAGIC or len(data) < 20:
        raise UserError(f"{source}: not a Qt resource file (no 'qres' header)")
    version, tree, payload, names = struct.unpack(">4I", data[4:20])
    if version not in (1, 2, 3):
        raise UserError(f"{source}: Qt resource format version {version} is not supported")
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6  # the length, then a 4-byte hash
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = f"{prefix}/{name(name_offset)}" if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            for child in range(first, first + count):
                yield from walk(child, path)
            return
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (size,) = struct.unpack(">I", data[payload + offset : payload + offset + 4])
        block = data[payload + offset + 4 : payload + offset + 4 + size]
        if flags & RCC_ZSTD:
            raise UserError(f"{source}: {path} is zstd-compressed, which is not supported")
        yield path.lstrip("/"), zlib.decompress(block[4:]) if flags & RCC_COMPRESSED else block

    try:
        yield from walk(0, "")
    except (struct.error, zlib.error, UnicodeDecodeError) as e:
        raise UserError(f"{source}: a damaged Qt resource file ({e})") from e
