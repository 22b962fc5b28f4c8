"""sniff: kinds from the first bytes; short magics need a second sign so text is not misread."""

from __future__ import annotations

import pytest

from nunchi.inputs.sniff import sniff


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"BM" + bytes(12) + (40).to_bytes(4, "little"), "bmp"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "avif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"PK\x03\x04\x14\x00", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2"),
        ("MZ세대,인원\n20대,3\n".encode(), "text"),  # not a Windows program
        (b"ID3,name\n1,a\n", "text"),  # not an MP3
        (b"BMI,weight\n22,60\n", "text"),  # not a BMP
        (b"\xff\xfea\x00,\x00", "binary"),  # UTF-16: left to the table reader
        ("이름,값\n".encode() + "가".encode()[:2], "text"),  # a character cut at the end
    ],
)
def test_kinds(head: bytes, kind: str) -> None:
    assert sniff(head).kind == kind
