"""Content-addressed blob storage: bytes in, a sha256 key out.

Backends: a folder (``file://PATH``, the embedded default), process memory (``memory://``,
for tests) and S3 or an S3-compatible server such as MinIO or Ceph
(``s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME]``, with the ``s3`` extra:
``pip install 'nunchi[s3]'``). S3 credentials come only from boto3's standard chain (the
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` environment variables, ``~/.aws``, an instance
role), never from the URL.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from nunchi.errors import InvalidInput, NotFound, StoreError
from nunchi.urls import redact_url

__all__ = [
    "BlobInfo",
    "BlobStore",
    "FolderBlobStore",
    "MemoryBlobStore",
    "S3BlobStore",
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


def _fanned(key: str) -> str:
    """Where ``key`` lives below a store's root: ``ab/cd/<key>`` (checked), so no folder
    holds more than a few hundred entries."""
    _check_key(key)
    return f"{key[:2]}/{key[2:4]}/{key}"


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
        return self.root / _fanned(key)

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


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
"""S3's bucket naming rule (MinIO follows it too)."""
_S3_CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment "
    "(or use ~/.aws or an instance role)"
)
# S3 error codes by what the operator has to fix.
_S3_NO_BUCKET = {"NoSuchBucket"}
_S3_MISSING = {"NoSuchKey", "NotFound", "404"}
_S3_DENIED = {"AccessDenied", "Forbidden", "403", "AllAccessDisabled", "AccountProblem"}
_S3_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidSecurity",
}
_S3_WRONG_REGION = {
    "PermanentRedirect",
    "301",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
}


def _s3_client(endpoint_url: str | None, region: str | None) -> Any:
    """A boto3 S3 client with credentials from boto3's own chain and short timeouts."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise InvalidInput("S3 blob stores need boto3: pip install 'nunchi[s3]'") from None
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 3, "mode": "standard"},
        # MinIO, Ceph and friends serve buckets as paths, not as host names.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    try:
        return boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config
        )
    except Exception as e:  # botocore validates the endpoint and region here
        raise InvalidInput(
            f"cannot set up an S3 client for endpoint {endpoint_url or 'AWS S3'}, region "
            f"{region or '(default)'} ({type(e).__name__}): check endpoint= and region= in the "
            "blob URL, and AWS_PROFILE and ~/.aws if set"
        ) from e


class S3BlobStore(BlobStore):
    """Blobs as objects ``PREFIX/ab/cd/<key>`` in an S3 bucket, their content type as the
    object's ``Content-Type``. S3 puts are atomic: a reader never sees a partial blob.

    boto3 is imported only here (the ``s3`` extra). Credentials come from boto3's standard
    chain; ``client`` replaces the client this store would make (for tests or custom
    sessions)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        if not isinstance(bucket, str) or not _BUCKET.match(bucket):
            raise InvalidInput(
                f"bad S3 bucket name {bucket!r}: expected 3-63 lowercase letters, digits, "
                "dots and hyphens, starting and ending with a letter or digit"
            )
        if endpoint_url is not None:
            _check_endpoint(endpoint_url)
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        self.endpoint_url = endpoint_url
        self._where = f"S3 bucket {bucket!r} at {endpoint_url or 'AWS S3'}"
        self._client = client if client is not None else _s3_client(endpoint_url, region)
        self._bucket_seen = False

    def _object_key(self, key: str) -> str:
        fanned = _fanned(key)
        return f"{self.prefix}/{fanned}" if self.prefix else fanned

    def put(self, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Store ``data`` and return its key (no upload when the same bytes are stored with
        the same content type)."""
        data = bytes(data)
        key = blob_key(data)
        head = self._head(key, f"cannot write blob {key}")
        if head is not None and head.get("ContentType") == content_type:
            return key
        with self._errors(f"cannot write blob {key}"):
            self._client.put_object(
                Bucket=self.bucket, Key=self._object_key(key), Body=data, ContentType=content_type
            )
        self._bucket_seen = True
        return key

    def get(self, key: str) -> bytes:
        """The bytes under ``key``."""
        object_key = self._object_key(key)
        with self._errors(f"cannot read blob {key}", missing=key):
            body = self._client.get_object(Bucket=self.bucket, Key=object_key)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def stat(self, key: str) -> BlobInfo:
        """Size and content type of ``key``."""
        head = self._head(key, f"cannot read blob {key}")
        if head is None:
            raise NotFound(f"no blob {key}")
        ctype = head.get("ContentType") or DEFAULT_CONTENT_TYPE
        return BlobInfo(key, int(head["ContentLength"]), ctype)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        return self._head(key, f"cannot read blob {key}") is not None

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there (S3 itself does not say)."""
        if self._head(key, f"cannot delete blob {key}") is None:
            return False
        with self._errors(f"cannot delete blob {key}"):
            self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        return True

    def _head(self, key: str, doing: str) -> dict[str, Any] | None:
        """The object's headers, or None when it is missing (from a bucket that exists)."""
        object_key = self._object_key(key)
        try:
            with self._errors(doing, missing=key):
                head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=object_key)
        except NotFound:
            # HEAD answers a bare 404 for a missing bucket too: tell the two apart once.
            if not self._bucket_seen:
                self._check_bucket(doing)
            return None
        self._bucket_seen = True
        return head

    def _check_bucket(self, doing: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if _s3_code(e) in _S3_NO_BUCKET | _S3_MISSING:
                self._raise_for(e, doing)
            # not allowed to look at the bucket, but it answered: it exists
        self._bucket_seen = True

    @contextlib.contextmanager
    def _errors(self, doing: str, missing: str | None = None) -> Iterator[None]:
        """Translate botocore's errors into ours; a missing object is NotFound when
        ``missing`` names its key."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as e:
            if missing is not None and _s3_code(e) in _S3_MISSING:
                raise NotFound(f"no blob {missing}") from None
            self._raise_for(e, doing)
        except BotoCoreError as e:
            self._raise_for(e, doing)

    def _raise_for(self, error: Exception, doing: str) -> NoReturn:
        """Raise a StoreError that says what to fix. Messages carry error codes and class
        names only, never the credentials."""
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        where = self._where
        endpoint = self.endpoint_url or "AWS S3"
        if isinstance(error, ClientError):
            code = _s3_code(error)
            if code in _S3_NO_BUCKET or code in _S3_MISSING:
                fix = f"{where} does not exist: check the bucket name and the endpoint"
            elif code in _S3_BAD_CREDENTIALS:
                fix = f"{where} rejected the credentials ({code}): {_S3_CREDENTIALS_HINT}"
            elif code in _S3_DENIED:
                fix = (
                    f"{where} denied access ({code}): check the credentials and that they may "
                    "read, write and list the bucket; " + _S3_CREDENTIALS_HINT
                )
            elif code in _S3_WRONG_REGION:
                fix = f"{where} is in another region ({code}): set region= in the blob URL"
            else:
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
                fix = f"{where} answered {code} (HTTP {status})"
        elif isinstance(error, NoCredentialsError | PartialCredentialsError):
            fix = f"no usable S3 credentials for {where}: {_S3_CREDENTIALS_HINT}"
        elif isinstance(error, ReadTimeoutError):
            fix = f"S3 endpoint {endpoint} did not answer in time; check the server"
        elif isinstance(error, ConnectionError):
            fix = (
                f"cannot connect to S3 endpoint {endpoint} ({type(error).__name__}): check "
                "endpoint= in the blob URL and that the server is up"
            )
        else:
            fix = f"{where} failed: {type(error).__name__}"
        raise StoreError(f"{doing}: {fix}") from error


def _s3_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _check_endpoint(endpoint_url: str) -> None:
    if "@" in endpoint_url:
        raise InvalidInput(
            "the S3 endpoint must not carry credentials (http://KEY:SECRET@HOST): "
            + _S3_CREDENTIALS_HINT
        )
    try:
        target = urlsplit(endpoint_url)
        valid = target.scheme in ("http", "https") and bool(target.hostname)
        _ = target.port  # raises ValueError for a bad port
    except ValueError:
        valid = False
    if not valid:
        raise InvalidInput(
            f"bad S3 endpoint {endpoint_url!r}: use http://HOST[:PORT] or https://HOST[:PORT]"
        )


def _open_s3(url: str) -> S3BlobStore:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidInput(
            f"blob URL {redact_url(url)!r} is malformed: use s3://BUCKET/PREFIX"
        ) from None
    if "@" in parts.netloc or ":" in parts.netloc:
        # Never echo it: a secret may be in there (one with a '/' ends up split across parts).
        raise InvalidInput(
            "S3 blob URLs take no user, password or port (s3://KEY:SECRET@BUCKET is refused): "
            f"use s3://BUCKET/PREFIX, {_S3_CREDENTIALS_HINT}, and give a server as "
            "?endpoint=http://HOST:PORT"
        )
    shown = redact_url(url)
    if not parts.netloc:
        raise InvalidInput(f"blob URL {shown!r} has no bucket: use s3://BUCKET/PREFIX")
    if parts.fragment:
        raise InvalidInput(f"blob URL {shown!r}: a '#' does not belong in an S3 blob URL")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise InvalidInput(
            f"blob URL {shown!r}: bad query; use ?endpoint=http://HOST:PORT&region=NAME"
        ) from None
    unknown = sorted(set(query) - {"endpoint", "region"})
    if unknown:
        raise InvalidInput(
            f"blob URL {shown!r}: unknown parameter(s) {', '.join(unknown)}; "
            "S3 blob URLs take endpoint= and region="
        )
    params: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1 or not values[0]:
            raise InvalidInput(f"blob URL {shown!r}: give {name}= exactly once, with a value")
        params[name] = values[0]
    return S3BlobStore(
        parts.netloc, parts.path, endpoint_url=params.get("endpoint"), region=params.get("region")
    )


def open_blob_store(url: str) -> BlobStore:
    """Open the blob store named by ``url``: ``file://PATH`` (absolute ``file:///srv/blobs``
    or relative ``file://./blobs``), ``memory://`` or ``s3://BUCKET[/PREFIX]`` with optional
    ``?endpoint=http://HOST:PORT`` (MinIO, Ceph, other S3-compatible servers) and
    ``&region=NAME``. S3 needs the ``s3`` extra (boto3) and takes its credentials from boto3's
    standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, an instance
    role); a URL that carries credentials is refused."""
    if url.startswith("file://"):
        path = url.removeprefix("file://")
        if not path:
            raise InvalidInput("blob URL 'file://' has no path: use file:///ABSOLUTE/PATH")
        return FolderBlobStore(path)
    if url.startswith("memory://"):
        return MemoryBlobStore()
    if url.startswith("s3://"):
        return _open_s3(url)
    raise InvalidInput(
        f"unknown blob URL {redact_url(url)!r}: use file://PATH, s3://BUCKET/PREFIX or memory://"
    )
