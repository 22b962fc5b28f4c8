"""Content-addressed blob storage: bytes in, a sha256 key out.

Backends: a folder (``file://PATH``, the embedded default) and process memory
(``memory://``, for tests). S3 is not yet supported.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from nunchi.errors import InvalidInput, NotFound, StoreError

__all__ = [
    "BlobInfo",
    "BlobStore",
    "FolderBlobStore",
    "MemoryBlobStore",
    "blob_key",
    "open_blob_store",
]

_KEY = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def blob_key(data: bytes) -> str:
    """The key ``data`` is stored under: its sha256 as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(f"bad blob key {key!r}: expected 64 lowercase hex digits (sha256)")
    return key


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What is known about a stored blob."""

    key: str
    size: int
    content_type: str


class BlobStore(abc.ABC):
    """Immutable blobs addressed by the sha256 of their bytes; putting the same bytes twice
    stores them once."""

    @abc.abstractmethod
    def put(self, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Store ``data`` (durably, atomically) and return its key."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; raises :class:`NotFound` if there are none."""

    @abc.abstractmethod
    def stat(self, key: str) -> BlobInfo:
        """Size and content type of ``key``; raises :class:`NotFound` if absent."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""


class MemoryBlobStore(BlobStore):
    """Blobs in a dict; for tests and throwaway runs. Thread-safe."""

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Store ``data`` and return its key."""
        key = blob_key(bytes(data))
        with self._lock:
            self._blobs[key] = (bytes(data), content_type)
        return key

    def get(self, key: str) -> bytes:
        """The bytes under ``key``."""
        return self._entry(key)[0]

    def stat(self, key: str) -> BlobInfo:
        """Size and content type of ``key``."""
        data, ctype = self._entry(key)
        return BlobInfo(key, len(data), ctype)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        with self._lock:
            return _check_key(key) in self._blobs

    def delete(self, key: str) -> bool:
        """Remove ``key``."""
        with self._lock:
            return self._blobs.pop(_check_key(key), None) is not None

    def _entry(self, key: str) -> tuple[bytes, str]:
        with self._lock:
            entry = self._blobs.get(_check_key(key))
        if entry is None:
            raise NotFound(f"no blob {key}")
        return entry


class FolderBlobStore(BlobStore):
    """Blobs as files under ``root/ab/cd/<key>`` with a ``<key>.json`` sidecar (content type).

    Writes go to a temporary file in the target folder, are fsynced and renamed into place,
    so a reader never sees a partial blob and a crash leaves at most a stray temp file."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create blob folder {self.root}: {e}") from e

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Store ``data`` and return its key (a no-op for bytes already stored)."""
        data = bytes(data)
        key = blob_key(data)
        path = self._path(key)
        meta = path.with_name(key + ".json")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not meta.exists() or self._content_type(meta) != content_type:
                self._write_atomic(meta, json.dumps({"content_type": content_type}).encode())
            if not path.exists():
                self._write_atomic(path, data)
        except OSError as e:
            raise StoreError(f"cannot write blob {key}: {e}") from e
        return key

    def get(self, key: str) -> bytes:
        """The bytes under ``key``."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {key}") from None
        except OSError as e:
            raise StoreError(f"cannot read blob {key}: {e}") from e

    def stat(self, key: str) -> BlobInfo:
        """Size and content type of ``key``."""
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise NotFound(f"no blob {key}") from None
        return BlobInfo(key, size, self._content_type(path.with_name(key + ".json")))

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self._path(key).is_file()

    def delete(self, key: str) -> bool:
        """Remove ``key`` and its sidecar."""
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            path.with_name(key + ".json").unlink()
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _content_type(meta: Path) -> str:
        try:
            value = json.loads(meta.read_bytes()).get("content_type")
        except (OSError, ValueError, AttributeError):
            return DEFAULT_CONTENT_TYPE
        return value if isinstance(value, str) else DEFAULT_CONTENT_TYPE

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def open_blob_store(url: str) -> BlobStore:
    """Open the blob store named by ``url``: ``file://PATH`` (absolute ``file:///srv/blobs``
    or relative ``file://./blobs``) or ``memory://``."""
    if url.startswith("file://"):
        path = url.removeprefix("file://")
        if not path:
            raise InvalidInput("blob URL 'file://' has no path: use file:///ABSOLUTE/PATH")
        return FolderBlobStore(path)
    if url.startswith("memory://"):
        return MemoryBlobStore()
    if url.startswith("s3://"):
        raise InvalidInput(
            f"blob URL {url!r}: S3 blob stores are not yet supported; use file://PATH"
        )
    raise InvalidInput(f"unknown blob URL {url!r}: use file://PATH or memory://")
