"""What a file really is, judged from its first bytes (never from its name or content type).

:func:`sniff` knows the image formats nunchi reads, the containers the table and archive readers
open (zip, OLE2), and enough other kinds (PDF, HTML, video, ...) to tell a user what they sent
instead of an image or a table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HEAD_BYTES", "Sniffed", "sniff"]

HEAD_BYTES = 512
"""How many leading bytes :func:`sniff` looks at."""


@dataclass(frozen=True)
class Sniffed:
    """A detected kind: ``kind`` is a short key (``"jpeg"``, ``"zip"``, ``"text"``), ``label``
    what to call it in a message (``"a PDF document"``)."""

    kind: str
    label: str


_EXACT: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "jpeg", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "png", "a PNG image"),
    (b"GIF87a", "gif", "a GIF image"),
    (b"GIF89a", "gif", "a GIF image"),
    (b"II*\x00", "tiff", "a TIFF image"),
    (b"MM\x00*", "tiff", "a TIFF image"),
    (b"II\xbc", "jxr", "a JPEG XR image"),
    (b"\xff\x0a", "jxl", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "jxl", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2", "a JPEG 2000 image"),
    (b"8BPS\x00\x01", "psd", "a Photoshop (PSD) file"),
    (b"\x00\x00\x01\x00", "ico", "a Windows icon (ICO)"),
    (b"%PDF-", "pdf", "a PDF document"),
    (b"PK\x03\x04", "zip", "a zip archive"),
    (b"PK\x05\x06", "zip", "a zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2", "an Office 97-2003 file (.xls, .doc, .hwp)"),
    (b"\x1f\x8b", "gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "rar", "a RAR archive"),
    (b"\xfd7zXZ\x00", "xz", "an xz archive"),
    (b"\x1aE\xdf\xa3", "webm", "a WebM/Matroska video"),
    (b"OggS\x00", "ogg", "an Ogg audio/video file"),
    (b"\x7fELF", "elf", "a program (ELF executable)"),
    (b"SQLite format 3\x00", "sqlite", "an SQLite database"),
)

_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"M4A ", b"qt  ", b"3gp4", b"3gp5"}


def _riff(head: bytes) -> Sniffed | None:
    form = head[8:12]
    if form == b"WEBP":
        return Sniffed("webp", "a WebP image")
    if form == b"AVI ":
        return Sniffed("avi", "an AVI video")
    if form == b"WAVE":
        return Sniffed("wav", "a WAV audio file")
    return Sniffed("riff", "a RIFF media file")


def _iso_media(head: bytes) -> Sniffed:
    size = int.from_bytes(head[0:4], "big")
    brands = {head[8:12]}
    end = min(len(head), size if 16 <= size <= 256 else 32)
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    if head[8:12] in _AVIF_BRANDS or (b"avif" in brands and not brands & _HEIF_BRANDS):
        return Sniffed("avif", "an AVIF image")
    if brands & _HEIF_BRANDS or head[8:12] in (b"mif1", b"msf1"):
        return Sniffed("heic", "a HEIC/HEIF image (iPhone photo format)")
    if brands & _VIDEO_BRANDS:
        return Sniffed("mp4", "an MP4/MOV video")
    return Sniffed("isobmff", "an MP4-family media file")


def _bmp(head: bytes) -> bool:
    return (
        head.startswith(b"BM")
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    )


def _text(head: bytes) -> Sniffed | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # a character cut at the end of the sample is fine
            return None
        text = head[: e.start].decode("utf-8")
    start = text.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return Sniffed("svg", "an SVG drawing")
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        return Sniffed("html", "an HTML page")
    if start.startswith("<?xml"):
        return Sniffed("xml", "an XML document")
    if start.startswith(("{", "[")):
        return Sniffed("json", "JSON text")
    return Sniffed("text", "plain text")


def sniff(head: bytes) -> Sniffed:
    """The kind of the content that starts with ``head`` (give at least :data:`HEAD_BYTES`
    bytes when there are that many)."""
    if not head:
        return Sniffed("empty", "an empty file")
    for magic, kind, label in _EXACT:
        if head.startswith(magic):
            return Sniffed(kind, label)
    # Short magics that plain text could start with ("MZ세대", "ID3,...") need a second sign.
    if head.startswith(b"MZ") and b"This program cannot be run in DOS mode" in head:
        return Sniffed("exe", "a Windows program (.exe/.dll)")
    if head.startswith(b"ID3") and head[3:4] in (b"\x02", b"\x03", b"\x04"):
        return Sniffed("mp3", "an MP3 audio file")
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff = _riff(head)
        if riff is not None:
            return riff
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if _bmp(head):
        return Sniffed("bmp", "a BMP image")
    text = _text(head)
    if text is not None:
        return text
    return Sniffed("binary", "binary data of an unknown kind")
