"""Webhook signatures as the Standard Webhooks spec defines them (https://www.standardwebhooks.com).

A secret is ``whsec_`` + base64 of random bytes; the key is the decoded bytes. Each message is
signed as ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` and sent with the headers
``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``. Any receiver library that
implements the spec (``standardwebhooks``, ``svix``) verifies what :func:`sign` produces.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from nunchi.errors import InvalidInput, Unauthorized

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = [
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_FILE",
    "SECRET_PREFIX",
    "generate_secret",
    "load_secret",
    "secret_key",
    "sign",
    "signed_headers",
    "verify",
]

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_FILE = "webhook_secret"
"""Name of the generated secret's file inside the data directory."""
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

_MIN_KEY_BYTES = 24
_MAX_KEY_BYTES = 64


def generate_secret(nbytes: int = 32) -> str:
    """A new random secret, ``whsec_`` + base64 of ``nbytes`` random bytes (24 to 64)."""
    if not _MIN_KEY_BYTES <= nbytes <= _MAX_KEY_BYTES:
        raise InvalidInput(f"a webhook secret needs {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def secret_key(secret: str | SecretStr) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional, as in the spec's libraries)."""
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    encoded = text.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        # Never echo the secret itself in the message.
        raise InvalidInput(
            "the webhook secret is not valid base64: it must look like 'whsec_' followed by "
            "base64 of 24-64 random bytes (leave NUNCHI_WEBHOOK_SECRET empty to generate one)"
        ) from None
    if not key:
        raise InvalidInput("the webhook secret is empty after its 'whsec_' prefix")
    return key


def sign(secret: str | SecretStr, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``v1,<base64>`` signature of ``body`` sent as message ``msg_id`` at ``timestamp``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    signed = f"{msg_id}.{int(timestamp)}.".encode() + raw
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str | SecretStr, msg_id: str, body: bytes | str, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` (timestamp defaults to now)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        HEADER_ID: msg_id,
        HEADER_TIMESTAMP: str(ts),
        HEADER_SIGNATURE: sign(secret, msg_id, ts, body),
    }


def verify(
    secret: str | SecretStr,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> None:
    """Check a received webhook; raises :class:`Unauthorized` saying what is wrong.

    Header names are matched case-insensitively. The signature header may carry several
    space-separated ``v1,<base64>`` signatures (during secret rotation); one match is enough.
    The timestamp must be within ``tolerance`` seconds of ``now`` either way."""
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE) if not lower.get(h)]
    if missing:
        raise Unauthorized(f"missing webhook header(s): {', '.join(missing)}")
    msg_id, ts_text = lower[HEADER_ID], lower[HEADER_TIMESTAMP].strip()
    try:
        timestamp = int(ts_text)
    except ValueError:
        raise Unauthorized(f"{HEADER_TIMESTAMP} {ts_text!r} is not an integer") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise Unauthorized(f"webhook timestamp {timestamp} is too old (tolerance {tolerance} s)")
    if timestamp > current + tolerance:
        raise Unauthorized(f"webhook timestamp {timestamp} is in the future")
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    for candidate in lower[HEADER_SIGNATURE].split():
        version, _, _sig = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(candidate.encode("utf-8"), expected):
            return
    raise Unauthorized("no webhook signature matches: wrong secret or a modified body")


def load_secret(settings: Settings) -> SecretStr:
    """The signing secret: ``settings.webhook_secret``, or one generated once and kept in
    ``<data_dir>/webhook_secret`` (mode 0600). Raises :class:`InvalidInput` for a malformed
    secret; the secret itself never appears in messages or logs."""
    configured = settings.webhook_secret.get_secret_value().strip()
    if configured:
        secret_key(configured)
        return SecretStr(configured)
    path = settings.ensure_data_dir() / SECRET_FILE
    if not path.exists():
        _write_new_secret(path)
    text = path.read_text("ascii").strip()
    try:
        secret_key(text)
    except InvalidInput as e:
        raise InvalidInput(f"{path} does not hold a valid webhook secret: {e}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s is readable by others (mode %o); restricting it to 0600", path, mode)
        path.chmod(0o600)
    return SecretStr(text)


def _write_new_secret(path: Path) -> None:
    # Write a private temp file, then hard-link it into place: the link fails if another
    # process won the race, and readers never see a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(generate_secret() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
            log.info("generated a new webhook signing secret in %s", path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
