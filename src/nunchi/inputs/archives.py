"""Tagged images from a zip of ``<tag>/<file>`` (uploads) or a folder laid out the same (CLI).

Nothing is extracted to disk, and a bad entry never stops the others: :func:`iter_zip` and
:func:`iter_folder` yield one :class:`ArchiveEntry` per file, carrying either its bytes or an
``error`` saying why it was skipped. Only refusals of the whole archive raise (before anything is
yielded): not a zip, more entries than allowed, more uncompressed bytes declared than allowed.

Zip safety: the entry count and central-directory size are read from the end record before
:mod:`zipfile` parses anything; the declared uncompressed total is capped; each entry's read is
capped at its declared size and at ``max_entry_bytes`` (and checked against its CRC); entries
that compress better than ``max_ratio`` are skipped as likely bombs; names with ``..``, absolute
paths, drive letters or control characters (zip slip), symbolic links and encrypted entries are
skipped with an error. ``__MACOSX/``, dotfiles, ``Thumbs.db`` and ``desktop.ini`` are ignored
silently. Names without the zip UTF-8 flag (Korean Windows writes CP949) are decoded as UTF-8,
else CP949; all names are NFC-normalised (macOS writes decomposed Hangul).

Tags: the first folder of an entry's path, after dropping a folder that wraps everything
(``photos/cat/1.jpg`` -> tag ``cat``). Files at the top level have no tag and are skipped with
an error. Which files are images is not judged here: pass the bytes to
:func:`nunchi.inputs.images.load_image`, which sniffs them.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nunchi.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from nunchi.inputs.images import DEFAULT_MAX_IMAGE_BYTES
from nunchi.inputs.sniff import HEAD_BYTES, sniff

__all__ = ["ArchiveEntry", "ArchiveLimits", "iter_folder", "iter_zip", "open_zip"]

_EOCD = b"PK\x05\x06"
_ZIP64_EOCD = b"PK\x06\x06"
_IGNORED_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_TAG = 100
_UTF8_FLAG = 0x800


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits for one archive or folder. A ratio is only checked on entries of at least
    ``ratio_floor_bytes`` uncompressed (small files may compress well and harm no one)."""

    max_entries: int = 10_000
    max_total_bytes: int = 1 << 30
    max_entry_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1 << 20


@dataclass(frozen=True)
class ArchiveEntry:
    """One file of an archive: ``data`` when it was read, else ``error`` saying why not."""

    path: str
    tag: str | None
    filename: str
    data: bytes | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the entry was read."""
        return self.error is None


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n} bytes"


def _central_directory(data: bytes, what: str) -> tuple[int, int]:
    """``(entries, central directory bytes)`` from the end record, read without zipfile."""
    i = data.rfind(_EOCD, max(0, len(data) - 22 - 65535))
    if i < 0 or len(data) - i < 22:
        raise InvalidInput(
            f"{what} is not a complete zip file (its end record is missing: was the upload "
            "cut short?); send the whole file"
        )
    entries = int.from_bytes(data[i + 10 : i + 12], "little")
    cd_size = int.from_bytes(data[i + 12 : i + 16], "little")
    record = i - 20 - 56
    zip64 = entries == 0xFFFF or cd_size == 0xFFFFFFFF
    if zip64 and record >= 0 and data[record : record + 4] == _ZIP64_EOCD:
        entries = int.from_bytes(data[record + 32 : record + 40], "little")
        cd_size = int.from_bytes(data[record + 40 : record + 48], "little")
    return entries, cd_size


def open_zip(
    data: bytes, *, max_entries: int, max_total_bytes: int, what: str = "the archive"
) -> zipfile.ZipFile:
    """``data`` opened as a zip, after checking its entry count and declared uncompressed
    total against the limits (PayloadTooLarge) and that it is a zip at all
    (UnsupportedMediaType, naming what it is)."""
    found = sniff(bytes(data[:HEAD_BYTES]))
    if found.kind != "zip":
        raise UnsupportedMediaType(f"{what} is {found.label}, not a zip file; send a .zip")
    entries, cd_size = _central_directory(data, what)
    if entries > max_entries or cd_size > max(1 << 20, max_entries * 1024):
        raise PayloadTooLarge(
            f"{what} holds {entries:,} entries; the limit is {max_entries:,}. Split it into "
            "several smaller archives"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise InvalidInput(f"{what} is a damaged zip file ({e}); make it again") from e
    infos = archive.infolist()
    total = sum(i.file_size for i in infos)
    if len(infos) > max_entries or total > max_total_bytes:
        archive.close()
        raise PayloadTooLarge(
            f"{what} unpacks to {_size(total)} in {len(infos):,} entries; the limits are "
            f"{_size(max_total_bytes)} and {max_entries:,} entries. Split it into smaller archives"
        )
    return archive


def _entry_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG:
        try:
            raw = name.encode("cp437")  # how zipfile decoded a name without the UTF-8 flag
        except UnicodeEncodeError:
            raw = b""
        for codec in ("utf-8", "cp949"):
            try:
                name = raw.decode(codec)
                break
            except UnicodeDecodeError:
                continue
    return unicodedata.normalize("NFC", name.replace("\\", "/"))


def _unsafe(path: str) -> str | None:
    if path.startswith("/") or _DRIVE.match(path):
        return "an absolute path"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "control characters in its name"
    if ".." in path.split("/"):
        return "'..' in its path (it would land outside the folder)"
    return None


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _ignored(parts: list[str]) -> bool:
    return any(p.startswith(".") or p.lower() in _IGNORED_NAMES for p in parts)


def _tagged(path: str, parts: list[str]) -> ArchiveEntry:
    filename = parts[-1]
    if len(parts) < 2:
        return ArchiveEntry(
            path, None, filename, error="at the top level: put it in a folder named after its tag"
        )
    tag = parts[0].strip()
    if not tag or len(tag) > _MAX_TAG:
        return ArchiveEntry(
            path, None, filename, error=f"its folder name must be 1 to {_MAX_TAG} characters"
        )
    return ArchiveEntry(path, tag, filename)


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry: ArchiveEntry, limits: ArchiveLimits
) -> ArchiveEntry:
    def skipped(why: str) -> ArchiveEntry:
        return ArchiveEntry(entry.path, entry.tag, entry.filename, error=why)

    if info.flag_bits & 0x1:
        return skipped("it is password-protected; pack it without a password")
    if stat.S_ISLNK(info.external_attr >> 16):
        return skipped("it is a symbolic link, not a file")
    if info.file_size > limits.max_entry_bytes:
        return skipped(
            f"it is {_size(info.file_size)}; the limit per file is {_size(limits.max_entry_bytes)}"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size >= limits.ratio_floor_bytes and ratio > limits.max_ratio:
        return skipped(
            f"it compresses {ratio:.0f}:1, more than the {limits.max_ratio:.0f}:1 a photo can "
            "(a zip bomb?)"
        )
    try:
        with archive.open(info) as f:
            data = f.read(min(info.file_size, limits.max_entry_bytes) + 1)
    except NotImplementedError as e:
        return skipped(f"its compression method is not supported ({e}); use plain zip (deflate)")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return skipped(f"it is damaged ({e})")
    if len(data) > info.file_size or len(data) > limits.max_entry_bytes:
        return skipped("it unpacks to more bytes than the archive declares (a zip bomb?)")
    return ArchiveEntry(entry.path, entry.tag, entry.filename, data=data)


def iter_zip(
    data: bytes, *, limits: ArchiveLimits | None = None, name: str | None = None
) -> Iterator[ArchiveEntry]:
    """One :class:`ArchiveEntry` per file of the zip ``data`` (ignored files left out), in
    archive order. Raises (before the first entry) only when the whole archive is refused."""
    limits = limits or ArchiveLimits()
    what = f"{name!r}" if name else "the archive"
    archive = open_zip(
        data, max_entries=limits.max_entries, max_total_bytes=limits.max_total_bytes, what=what
    )
    return _iter_open_zip(archive, limits)


def _iter_open_zip(archive: zipfile.ZipFile, limits: ArchiveLimits) -> Iterator[ArchiveEntry]:
    with archive:
        listed: list[tuple[zipfile.ZipInfo, str, list[str] | None]] = []
        for info in archive.infolist():
            path = _entry_name(info)
            if info.is_dir():
                continue
            if _unsafe(path):  # before the ignore rule: '..' starts with a dot too
                listed.append((info, path, None))
                continue
            parts = _parts(path)
            if parts and not _ignored(parts):
                listed.append((info, path, parts))
        safe = [parts for _, _, parts in listed if parts is not None]
        strip = bool(safe) and all(len(p) >= 3 for p in safe) and len({p[0] for p in safe}) == 1
        for info, path, maybe in listed:
            if maybe is None:
                reason = _unsafe(path) or "an unsafe path"
                yield ArchiveEntry(path, None, path.rsplit("/", 1)[-1], error=f"skipped: {reason}")
                continue
            entry = _tagged(path, maybe[1:] if strip else maybe)
            yield entry if entry.error else _read_entry(archive, info, entry, limits)


def iter_folder(root: Path, *, limits: ArchiveLimits | None = None) -> Iterator[ArchiveEntry]:
    """One :class:`ArchiveEntry` per file under ``root/<tag>/`` (sorted; dotfiles ignored;
    symbolic links reported and never followed). After ``max_entries`` files one error entry
    says the rest was not read, and iteration stops."""
    limits = limits or ArchiveLimits()
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder; give a folder of <tag>/<image> files")
    count = 0
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _ignored([d]))
        here = Path(top)
        for d in dirs:
            if (here / d).is_symlink():
                rel = (here / d).relative_to(root).as_posix()
                yield ArchiveEntry(rel, None, d, error="a symbolic link to a folder: not followed")
        for f in sorted(files):
            if _ignored([f]):
                continue
            count += 1
            path = here / f
            rel = unicodedata.normalize("NFC", path.relative_to(root).as_posix())
            if count > limits.max_entries:
                yield ArchiveEntry(
                    rel, None, f, error=f"stopped: more than {limits.max_entries:,} files"
                )
                return
            entry = _tagged(rel, _parts(rel))
            yield entry if entry.error else _read_file(path, entry, limits)


def _read_file(path: Path, entry: ArchiveEntry, limits: ArchiveLimits) -> ArchiveEntry:
    def skipped(why: str) -> ArchiveEntry:
        return ArchiveEntry(entry.path, entry.tag, entry.filename, error=why)

    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return skipped("a symbolic link: not followed")
        if not stat.S_ISREG(info.st_mode):
            return skipped("not a regular file")
        if info.st_size > limits.max_entry_bytes:
            return skipped(
                f"it is {_size(info.st_size)}; the limit per file is "
                f"{_size(limits.max_entry_bytes)}"
            )
        with path.open("rb") as f:
            data = f.read(limits.max_entry_bytes + 1)
    except OSError as e:
        return skipped(f"cannot be read ({e.strerror or e})")
    if len(data) > limits.max_entry_bytes:
        return skipped(f"it grew past the limit of {_size(limits.max_entry_bytes)} while read")
    return ArchiveEntry(entry.path, entry.tag, entry.filename, data=data)
