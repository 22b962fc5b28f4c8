"""Blob stores: content addressing, durability of the folder backend, bad keys and URLs."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from nunchi.errors import InvalidInput, NotFound
from nunchi.store.blobs import BlobStore, FolderBlobStore, MemoryBlobStore, open_blob_store


@pytest.fixture(params=["folder", "memory"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "folder":
        return open_blob_store(f"file://{tmp_path / 'blobs'}")
    return open_blob_store("memory://")


def test_put_returns_sha256_and_get_returns_the_bytes(blobs: BlobStore) -> None:
    data = "눈치 있는 사진".encode() * 100
    key = blobs.put(data, "image/png")
    assert key == hashlib.sha256(data).hexdigest()
    assert blobs.get(key) == data
    assert blobs.exists(key)
    info = blobs.stat(key)
    assert (info.size, info.content_type) == (len(data), "image/png")


def test_same_bytes_are_stored_once(blobs: BlobStore) -> None:
    assert blobs.put(b"abc") == blobs.put(b"abc")
    assert blobs.put(b"abd") != blobs.put(b"abc")


def test_delete_removes_and_reports(blobs: BlobStore) -> None:
    key = blobs.put(b"gone soon")
    assert blobs.delete(key) is True
    assert not blobs.exists(key)
    assert blobs.delete(key) is False
    with pytest.raises(NotFound):
        blobs.get(key)
    with pytest.raises(NotFound):
        blobs.stat(key)


def test_empty_blob_round_trips(blobs: BlobStore) -> None:
    key = blobs.put(b"")
    assert blobs.get(key) == b""


@pytest.mark.parametrize("key", ["../../etc/passwd", "ABC", "a" * 63, "g" * 64, ""])
def test_bad_keys_are_rejected(blobs: BlobStore, key: str) -> None:
    with pytest.raises(InvalidInput, match="64 lowercase hex"):
        blobs.get(key)
    with pytest.raises(InvalidInput):
        blobs.exists(key)


def test_folder_layout_has_no_temp_files_left(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    key = store.put(b"x" * 10_000, "text/plain")
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"{key[:2]}/{key[2:4]}/{key}", f"{key[:2]}/{key[2:4]}/{key}.json"]


def test_folder_store_survives_reopen(tmp_path: Path) -> None:
    key = FolderBlobStore(tmp_path).put(b"persisted", "text/plain")
    again = open_blob_store(f"file://{tmp_path}")
    assert again.get(key) == b"persisted"
    assert again.stat(key).content_type == "text/plain"


def test_concurrent_puts_of_the_same_bytes(tmp_path: Path) -> None:
    store = FolderBlobStore(tmp_path)
    data = b"race" * 50_000
    keys: list[str] = []
    errors: list[BaseException] = []

    def put() -> None:
        try:
            keys.append(store.put(data))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(set(keys)) == 1
    assert store.get(keys[0]) == data


def test_relative_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_blob_store("file://./data/blobs")
    assert isinstance(store, FolderBlobStore)
    store.put(b"here")
    assert (tmp_path / "data" / "blobs").is_dir()


def test_memory_url() -> None:
    assert isinstance(open_blob_store("memory://"), MemoryBlobStore)


def test_s3_is_not_yet_supported() -> None:
    with pytest.raises(InvalidInput, match="not yet supported"):
        open_blob_store("s3://bucket/prefix")


@pytest.mark.parametrize("url", ["ftp://x", "blobs", "file://"])
def test_unknown_urls_say_what_to_use(url: str) -> None:
    with pytest.raises(InvalidInput, match="file://"):
        open_blob_store(url)
