"""Blob stores: content addressing, durability of the folder backend, the S3 backend's layout
and errors (against a stand-in S3 server), bad keys and URLs."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from nunchi.errors import InvalidInput, NotFound, StoreError
from nunchi.store.blobs import (
    BlobStore,
    FolderBlobStore,
    MemoryBlobStore,
    S3BlobStore,
    open_blob_store,
)
from tests.fixtures.s3 import REGION, SECRET, S3Bucket, s3_client


@pytest.fixture(params=["folder", "memory", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "folder":
        return open_blob_store(f"file://{tmp_path / 'blobs'}")
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        store = open_blob_store(bucket.url())
        assert isinstance(store, S3BlobStore)
        return store
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fanned(prefix: str, key: str) -> str:
    return f"{prefix}{key[:2]}/{key[2:4]}/{key}"


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("some/prefix", "some/prefix/"), ("/some//prefix/", "some/prefix/"), ("", "")],
)
def test_s3_objects_are_fanned_out_under_the_prefix(
    s3_bucket: S3Bucket, prefix: str, expected: str
) -> None:
    store = open_blob_store(s3_bucket.url(prefix))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.endpoint_url) == (s3_bucket.name, s3_bucket.endpoint)
    one = store.put(b"one", "text/plain")
    two = store.put(b"two" * 1000, "image/png")
    assert s3_bucket.keys() == sorted([_fanned(expected, one), _fanned(expected, two)])
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=_fanned(expected, two))
    assert (head["ContentLength"], head["ContentType"]) == (3000, "image/png")


def test_s3_put_of_the_same_bytes_uploads_once_and_updates_the_content_type(
    s3_bucket: S3Bucket,
) -> None:
    client = s3_client(s3_bucket.endpoint)
    uploads: list[str] = []
    client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **_: uploads.append(params["url_path"])
    )
    store = S3BlobStore(s3_bucket.name, "p", client=client)
    key = store.put(b"same bytes", "text/plain")
    assert store.put(b"same bytes", "text/plain") == key
    assert len(uploads) == 1
    assert store.put(b"same bytes", "application/json") == key
    assert len(uploads) == 2
    assert s3_bucket.keys() == [_fanned("p/", key)]
    assert store.stat(key).content_type == "application/json"
    assert store.get(key) == b"same bytes"


def test_s3_missing_bucket_is_a_store_error_naming_it(s3_bucket: S3Bucket) -> None:
    missing = f"{s3_bucket.name}-missing"
    store = open_blob_store(s3_bucket.url().replace(s3_bucket.name, missing))
    key = hashlib.sha256(b"x").hexdigest()
    for call in (lambda: store.put(b"x"), lambda: store.get(key), lambda: store.exists(key),
                 lambda: store.stat(key), lambda: store.delete(key)):
        with pytest.raises(StoreError, match=f"'{missing}'.*does not exist") as caught:
            call()
        assert SECRET not in str(caught.value)
        assert not isinstance(caught.value, NotFound)


def test_s3_unreachable_endpoint_fails_fast(s3_env: None) -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"
    store = open_blob_store(f"s3://bucket/p?endpoint={endpoint}&region={REGION}")
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot connect to S3 endpoint") as caught:
        store.put(b"nowhere")
    assert time.monotonic() - started < 30
    assert endpoint in str(caught.value) and "endpoint=" in str(caught.value)


def test_s3_without_credentials_says_where_to_put_them(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_blob_store(s3_bucket.url())
    with pytest.raises(StoreError, match=r"no usable S3 credentials.*AWS_ACCESS_KEY_ID"):
        store.put(b"anonymous")


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLE:s3cr3tValue@bucket/prefix",
        "s3://AKIAEXAMPLE:s3cr3t/Value@bucket/prefix",
        "s3://AKIAEXAMPLE@bucket/prefix",
        "s3://bucket/prefix?endpoint=http://AKIAEXAMPLE:s3cr3tValue@127.0.0.1:9000",
        "s3://bucket/prefix?endpoint=http://AKIAEXAMPLE:s3cr3t/Value@127.0.0.1:9000",
    ],
)
def test_s3_credentials_in_the_url_are_refused_and_not_echoed(url: str) -> None:
    with pytest.raises(InvalidInput, match="AWS_ACCESS_KEY_ID") as caught:
        open_blob_store(url)
    assert "s3cr3t" not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)


def test_unknown_url_messages_mask_credentials() -> None:
    with pytest.raises(InvalidInput, match="file://") as caught:
        open_blob_store("https://AKIAEXAMPLE:s3cr3t/Value@host/blobs")
    assert "s3cr3t" not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("s3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://b/prefix", "bad S3 bucket name"),
        ("s3://bucket:9000/prefix", "no user, password or port"),
        ("s3://bucket/p?endpoint_url=http://h:9000", "unknown parameter.*endpoint_url"),
        ("s3://bucket/p?region=a&region=b", "region= exactly once"),
        ("s3://bucket/p?endpoint=", "endpoint= exactly once"),
        ("s3://bucket/p?endpoint=ftp://h:9000", "bad S3 endpoint"),
        ("s3://bucket/p?endpoint=http://h:port", "bad S3 endpoint"),
        ("s3://bucket/p#x", "'#'"),
    ],
)
def test_bad_s3_urls_say_what_to_fix(url: str, fix: str) -> None:
    with pytest.raises(InvalidInput, match=fix):
        open_blob_store(url)


def test_s3_without_boto3_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(InvalidInput, match=r"need boto3: pip install 'nunchi\[s3\]'"):
        open_blob_store("s3://bucket/prefix")


@pytest.mark.parametrize("url", ["ftp://x", "blobs", "file://"])
def test_unknown_urls_say_what_to_use(url: str) -> None:
    with pytest.raises(InvalidInput, match="file://"):
        open_blob_store(url)


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket-2", "0-0"])
def test_s3_bucket_names_follow_the_s3_rule(name: str) -> None:
    assert S3BlobStore(name, client=object()).bucket == name


@pytest.mark.parametrize(
    "name", ["ab", "a" * 64, "My-Bucket", "my_bucket", "-bucket", "bucket-", ".bucket", "bucket."]
)
def test_s3_bucket_names_breaking_the_s3_rule_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="3-63 lowercase letters, digits, dots and hyphens"):
        S3BlobStore(name, client=object())


def test_s3_bucket_that_denies_a_look_is_checked_once() -> None:
    from botocore.exceptions import ClientError

    calls: list[str] = []

    class Client:
        def head_object(self, **_: object) -> None:
            calls.append("head_object")
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")

        def head_bucket(self, **_: object) -> None:
            calls.append("head_bucket")
            raise ClientError({"Error": {"Code": "403"}}, "HeadBucket")

    store = S3BlobStore("bucket", client=Client())
    key = hashlib.sha256(b"x").hexdigest()
    assert not store.exists(key)
    assert not store.exists(key)
    assert calls == ["head_object", "head_bucket", "head_object"], "it answered: it exists"
