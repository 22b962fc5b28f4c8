"""iter_zip / iter_folder: tags from folders, zip slip and zip bombs refused, one bad entry never
stops the others."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from pathlib import Path

import pytest

from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.archives import ArchiveEntry, ArchiveLimits, iter_folder, iter_zip
from nunchi.inputs.images import load_image
from tests.unit.inputs.craft import encoded, solid

pytestmark = pytest.mark.timeout(60)

JPEG = encoded(solid("RGB", (8, 8), (200, 30, 30)), "JPEG")


def make_zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()


def by_path(entries: list[ArchiveEntry]) -> dict[str, ArchiveEntry]:
    return {e.path: e for e in entries}


def test_tagged_images_with_mac_and_hidden_files_ignored() -> None:
    data = make_zip({
        "고양이/1.jpg": JPEG, "고양이/2.jpg": JPEG, "dog/a.jpeg": JPEG,
        "__MACOSX/고양이/._1.jpg": b"\x00\x05\x16\x07", "dog/.DS_Store": b"junk",
        "dog/Thumbs.db": b"junk", "empty/": b"",
    })  # fmt: skip
    entries = list(iter_zip(data))
    assert [(e.tag, e.filename, e.ok) for e in entries] == [
        ("고양이", "1.jpg", True), ("고양이", "2.jpg", True), ("dog", "a.jpeg", True),
    ]  # fmt: skip
    assert all(e.data == JPEG for e in entries)
    assert load_image(entries[0].data or b"").format == "JPEG"


def test_a_folder_wrapping_everything_is_not_a_tag() -> None:
    entries = list(iter_zip(make_zip({"photos/cat/1.jpg": JPEG, "photos/dog/2.jpg": JPEG})))
    assert [e.tag for e in entries] == ["cat", "dog"]
    single = list(iter_zip(make_zip({"cat/1.jpg": JPEG, "cat/2.jpg": JPEG})))
    assert [e.tag for e in single] == ["cat", "cat"]  # one tag folder stays the tag


def test_zip_slip_entries_are_skipped_and_the_rest_is_read() -> None:
    data = make_zip({
        "../../etc/evil.jpg": JPEG, "cat/../../evil.jpg": JPEG, "/abs/evil.jpg": JPEG,
        "C:/Windows/evil.jpg": JPEG, "cat\\..\\..\\evil.jpg": JPEG, "cat/ok.jpg": JPEG,
    })  # fmt: skip
    entries = list(iter_zip(data))
    good = [e for e in entries if e.ok]
    assert [(e.tag, e.filename) for e in good] == [("cat", "ok.jpg")]
    bad = [e for e in entries if not e.ok]
    assert len(bad) == 5 and all(e.data is None and e.error for e in bad)
    assert all("'..'" in (e.error or "") or "absolute" in (e.error or "") for e in bad)


def test_files_at_the_top_level_are_reported() -> None:
    entries = by_path(list(iter_zip(make_zip({"loose.jpg": JPEG, "cat/1.jpg": JPEG}))))
    assert not entries["loose.jpg"].ok and "folder named after its tag" in str(
        entries["loose.jpg"].error
    )
    assert entries["cat/1.jpg"].ok


def test_a_zip_bomb_of_many_compressible_entries_is_refused_before_reading() -> None:
    zeros = b"\x00" * (2 << 20)
    data = make_zip({f"cat/{i}.bmp": zeros for i in range(40)})  # 80 MiB in ~80 KB
    assert len(data) < 200_000
    with pytest.raises(PayloadTooLarge) as e:
        iter_zip(data, limits=ArchiveLimits(max_total_bytes=64 << 20))
    assert "unpacks to 80.0 MiB in 40 entries" in str(e.value) and "64.0 MiB" in str(e.value)


def test_a_single_highly_compressible_entry_is_skipped_as_a_bomb() -> None:
    data = make_zip({"cat/bomb.bmp": b"\x00" * (4 << 20), "cat/ok.jpg": JPEG})
    entries = by_path(list(iter_zip(data)))
    assert "compresses" in str(entries["cat/bomb.bmp"].error)
    assert "zip bomb" in str(entries["cat/bomb.bmp"].error)
    assert entries["cat/ok.jpg"].ok


def test_too_many_entries_are_refused_from_the_end_record() -> None:
    data = make_zip({f"cat/{i}.jpg": b"x" for i in range(300)}, zipfile.ZIP_STORED)
    with pytest.raises(PayloadTooLarge, match="holds 300 entries; the limit is 100"):
        iter_zip(data, limits=ArchiveLimits(max_entries=100))


def _patch_size(data: bytes, declared: int) -> bytes:
    """The zip with its first entry's uncompressed size (local and central headers) set to
    ``declared``: a lying header."""
    out = bytearray(data)
    size = declared.to_bytes(4, "little")
    assert out[:4] == b"PK\x03\x04"
    out[22:26] = size
    central = out.index(b"PK\x01\x02")
    out[central + 24 : central + 28] = size
    return bytes(out)


def test_an_entry_bigger_than_its_header_says_is_skipped_and_the_rest_is_read() -> None:
    data = _patch_size(make_zip({"cat/liar.jpg": JPEG * 50, "cat/ok.jpg": JPEG}), 100)
    entries = by_path(list(iter_zip(data)))
    assert not entries["cat/liar.jpg"].ok and "damaged" in str(entries["cat/liar.jpg"].error)
    assert entries["cat/ok.jpg"].ok


def _set_encrypted(data: bytes, name: str) -> bytes:
    """The zip with entry ``name`` flagged as encrypted (zipfile cannot write such entries)."""
    out = bytearray(data)
    encoded_name = name.encode()
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = out.index(signature)
        while out[at + name_at : at + name_at + len(encoded_name)] != encoded_name:
            at = out.index(signature, at + 4)
        out[at + flag_at] |= 0x01
    return bytes(out)


def test_oversized_symlinked_and_encrypted_entries_are_skipped() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        link = zipfile.ZipInfo("cat/link.jpg")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("cat/secret.jpg", b"\x00" * 20)
        z.writestr("cat/huge.jpg", b"\xff" * 5000)
        z.writestr("cat/ok.jpg", JPEG)
    data = _set_encrypted(out.getvalue(), "cat/secret.jpg")
    entries = by_path(list(iter_zip(data, limits=ArchiveLimits(max_entry_bytes=4000))))
    assert "symbolic link" in str(entries["cat/link.jpg"].error)
    assert "password" in str(entries["cat/secret.jpg"].error)
    assert "the limit per file is 4000 bytes" in str(entries["cat/huge.jpg"].error)
    assert entries["cat/ok.jpg"].ok


def test_cp949_names_without_the_utf8_flag_and_decomposed_hangul() -> None:
    placeholder = "abcdef/1.jpg"
    raw = bytearray(make_zip({placeholder: JPEG}))
    korean = "고양이".encode("cp949")
    assert len(korean) == 6
    raw = bytearray(bytes(raw).replace(b"abcdef", korean))  # local and central headers
    nfd = unicodedata.normalize("NFD", "강아지")
    entries = list(iter_zip(bytes(raw))) + list(iter_zip(make_zip({f"{nfd}/2.jpg": JPEG})))
    assert [e.tag for e in entries] == ["고양이", "강아지"]
    assert all(e.ok for e in entries)


def test_what_is_not_a_zip_is_refused_by_kind_and_a_cut_zip_as_damaged() -> None:
    with pytest.raises(UnsupportedMediaType, match="a JPEG image, not a zip"):
        iter_zip(JPEG, name="photos.zip")
    data = make_zip({"cat/1.jpg": JPEG})
    with pytest.raises(InvalidInput, match="not a complete zip"):
        iter_zip(data[:-30])


# --- folders -------------------------------------------------------------------------------


def test_a_folder_of_tags(tmp_path: Path) -> None:
    for tag, names in {"cat": ["1.jpg", "2.jpg"], "dog": ["a.jpg"]}.items():
        (tmp_path / tag).mkdir()
        for name in names:
            (tmp_path / tag / name).write_bytes(JPEG)
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.jpg").write_bytes(JPEG)
    (tmp_path / "loose.jpg").write_bytes(JPEG)
    (tmp_path / "dog" / "big.jpg").write_bytes(b"\xff" * 5000)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jpg"
    outside.write_bytes(JPEG)
    os.symlink(outside, tmp_path / "dog" / "link.jpg")
    os.symlink(tmp_path.parent, tmp_path / "up")
    entries = by_path(list(iter_folder(tmp_path, limits=ArchiveLimits(max_entry_bytes=4000))))
    assert {p for p, e in entries.items() if e.ok} == {"cat/1.jpg", "cat/2.jpg", "dog/a.jpg"}
    assert "folder named after its tag" in str(entries["loose.jpg"].error)
    assert "limit per file" in str(entries["dog/big.jpg"].error)
    assert "symbolic link" in str(entries["dog/link.jpg"].error)
    assert "not followed" in str(entries["up"].error)
    assert entries["cat/1.jpg"].tag == "cat" and entries["cat/1.jpg"].data == JPEG


def test_a_folder_stops_after_the_entry_limit(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    for i in range(5):
        (tmp_path / "cat" / f"{i}.jpg").write_bytes(JPEG)
    entries = list(iter_folder(tmp_path, limits=ArchiveLimits(max_entries=3)))
    assert [e.ok for e in entries] == [True, True, True, False]
    assert "more than 3 files" in str(entries[-1].error)
    with pytest.raises(InvalidInput, match="not a folder"):
        list(iter_folder(tmp_path / "missing"))
