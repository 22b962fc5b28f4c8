"""Crafted inputs for the input-reader tests, made in memory (no fixture files)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

__all__ = ["bomb_png", "encoded", "png_chunk", "solid"]


def solid(mode: str, size: tuple[int, int], color: Any) -> Image.Image:
    """A one-colour image."""
    return Image.new(mode, size, color)


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """``image`` saved as ``fmt``."""
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def bomb_png(width: int, height: int, *, complete: bool) -> bytes:
    """A 1-bit greyscale PNG declaring ``width`` x ``height`` pixels. With ``complete`` its
    pixel data is really there (all zero: it compresses about 1000:1, so 30000x30000 is a
    ~110 KB file that decodes to 112 MB of 1-bit pixels, 2.7 GB as RGB); without, the pixel
    data is a few bytes, so only a reader that decodes before checking the size notices."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    if complete:
        squeeze = zlib.compressobj(9)
        row = b"\x00" * (1 + (width + 7) // 8)
        parts = [squeeze.compress(row) for _ in range(height)]
        parts.append(squeeze.flush())
        pixels = b"".join(parts)
    else:
        pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )
