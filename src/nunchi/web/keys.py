"""API keys: the ``api_keys`` and ``web_sessions`` tables and :class:`KeyService`.

A key looks like ``nk_<prefix>_<secret>``: the prefix (10 hex digits) is stored in clear so
lists can show which key is which and lookups are one indexed query; the full key is stored
only as its SHA-256 digest (keys carry 256 random bits, so a fast hash is the standard
choice) and compared in constant time. The plaintext is returned once, by
:meth:`KeyService.create`, and never stored or logged.

Scopes: ``admin`` implies every scope, ``submit`` implies ``read``.

Web sessions let a browser act with a key's rights after entering it on ``/login``: the
cookie holds a random token, the table holds its SHA-256 digest, the key it stands for and
an expiry; revoking the key ends its sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import JSON, ForeignKey, String, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from nunchi.errors import InvalidInput, NotFound, Unauthorized
from nunchi.store.base import Base
from nunchi.store.types import UTCDateTime, utcnow

__all__ = [
    "ANONYMOUS",
    "KEY_PATTERN",
    "SCOPES",
    "ApiKey",
    "ApiKeyInfo",
    "KeyService",
    "Principal",
    "Scope",
    "WebSession",
    "expand_scopes",
]

Scope = Literal["admin", "submit", "read"]
SCOPES: tuple[Scope, ...] = ("admin", "submit", "read")
"""Every scope, strongest first."""

_IMPLIED: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "submit": frozenset({"submit", "read"}),
    "read": frozenset({"read"}),
}

KEY_PATTERN = re.compile(r"^nk_([0-9a-f]{10})_([A-Za-z0-9_-]{20,200})$")
"""What a well-formed API key looks like."""

_PREFIX_BYTES = 5
_SECRET_BYTES = 32
_TOUCH_EVERY = timedelta(seconds=60)
"""``last_used_at`` is written at most this often per key (not on every request)."""
_NAME_MAX = 100


def expand_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes granted by ``scopes`` once implications are applied."""
    granted: set[str] = set()
    for scope in scopes:
        granted |= _IMPLIED.get(scope, frozenset())
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a key's name and the scopes it grants."""

    name: str
    scopes: frozenset[str]
    key_id: str | None = None

    def allows(self, scope: str) -> bool:
        """Whether this principal may act with ``scope`` (implications applied)."""
        return scope in expand_scopes(self.scopes)


ANONYMOUS = Principal(name="anonymous", scopes=frozenset({"admin"}))
"""The principal of every request while authentication is disabled."""


class ApiKey(Base):
    """An API key (only its digest is stored)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME_MAX))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser session opened by entering an API key on the login page."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 hex digest of the cookie's token (the token itself is never stored)."""
    key_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: everything but its secret."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        """Whether the key has been revoked."""
        return self.revoked_at is not None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyInfo:
        """The public view of a stored key."""
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=tuple(row.scopes),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(s.strip().lower() for s in scopes))
    if not wanted:
        raise InvalidInput(f"give at least one scope; choose from: {', '.join(SCOPES)}")
    unknown = [s for s in wanted if s not in _IMPLIED]
    if unknown:
        raise InvalidInput(
            f"unknown scope {', '.join(map(repr, unknown))}; choose from: {', '.join(SCOPES)}"
        )
    return wanted


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("the key name is empty: give a short name such as 'ci' or 'alice'")
    if len(cleaned) > _NAME_MAX:
        raise InvalidInput(f"the key name is {len(cleaned)} characters; the limit is {_NAME_MAX}")
    return cleaned


class KeyService:
    """Creates, verifies, lists and revokes API keys; opens and checks web sessions."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # -- keys --------------------------------------------------------------------------

    def create(self, name: str, scopes: Iterable[str]) -> tuple[ApiKeyInfo, str]:
        """Make a key; returns its public view and the plaintext key (shown only now)."""
        clean_name = _check_name(name)
        clean_scopes = _check_scopes(scopes)
        for _ in range(5):
            prefix = secrets.token_hex(_PREFIX_BYTES)
            plaintext = f"nk_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
            row = ApiKey(
                id=secrets.token_hex(16),
                name=clean_name,
                prefix=prefix,
                hash=_digest(plaintext),
                scopes=clean_scopes,
                created_at=utcnow(),
            )
            try:
                with self._sessions.begin() as session:
                    session.add(row)
            except IntegrityError:  # prefix collision: draw again
                continue
            return ApiKeyInfo.of(row), plaintext
        raise InvalidInput("could not draw a unique key prefix; try again")  # pragma: no cover

    def verify(self, plaintext: str) -> Principal:
        """The principal of a valid, unrevoked key; :class:`Unauthorized` otherwise."""
        match = KEY_PATTERN.match(plaintext.strip())
        if match is None:
            raise Unauthorized("the API key is malformed: expected nk_<prefix>_<secret>")
        prefix = match.group(1)
        with self._sessions() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
            expected = row.hash if row is not None else _digest("nk_0000000000_" + "x" * 43)
            matches = hmac.compare_digest(expected, _digest(plaintext.strip()))
            if row is None or not matches:
                raise Unauthorized("the API key is not valid")
            if row.revoked_at is not None:
                raise Unauthorized("the API key has been revoked")
            principal = Principal(name=row.name, scopes=frozenset(row.scopes), key_id=row.id)
            last = row.last_used_at
        now = utcnow()
        if last is None or now - last >= _TOUCH_EVERY:
            with self._sessions.begin() as session:
                session.execute(
                    update(ApiKey).where(ApiKey.id == principal.key_id).values(last_used_at=now)
                )
        return principal

    def list(self, *, include_revoked: bool = True) -> list[ApiKeyInfo]:
        """Every key, oldest first."""
        query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        with self._sessions() as session:
            return [ApiKeyInfo.of(row) for row in session.scalars(query)]

    def get(self, id_or_prefix: str) -> ApiKeyInfo:
        """One key by id or prefix; :class:`NotFound` if there is none."""
        with self._sessions() as session:
            return ApiKeyInfo.of(self._find(session, id_or_prefix))

    def revoke(self, id_or_prefix: str) -> ApiKeyInfo:
        """Revoke a key (by id or prefix) and end its web sessions. Revoking twice is a no-op."""
        with self._sessions.begin() as session:
            row = self._find(session, id_or_prefix)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            session.execute(delete(WebSession).where(WebSession.key_id == row.id))
            session.flush()
            return ApiKeyInfo.of(row)

    @staticmethod
    def _find(session: Session, id_or_prefix: str) -> ApiKey:
        ident = id_or_prefix.strip()
        if ident.startswith("nk_"):  # the whole key or "nk_<prefix>" pasted
            ident = ident.split("_")[1]
        row = session.scalars(
            select(ApiKey).where(or_(ApiKey.id == ident, ApiKey.prefix == ident))
        ).first()
        if row is None:
            raise NotFound(f"no API key with id or prefix {id_or_prefix!r}; see `nunchi keys list`")
        return row

    # -- web sessions ------------------------------------------------------------------

    def open_session(self, principal: Principal, ttl: timedelta) -> str:
        """Start a web session for a key's principal; returns the cookie token."""
        if principal.key_id is None:
            raise InvalidInput("only a principal of an API key can open a web session")
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._sessions.begin() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at < now))
            session.add(
                WebSession(
                    id=_digest(token), key_id=principal.key_id, created_at=now, expires_at=now + ttl
                )
            )
        return token

    def session_principal(self, token: str) -> Principal | None:
        """The principal of a live session token, or None (unknown, expired or revoked key)."""
        if not token or len(token) > 200:
            return None
        with self._sessions() as session:
            row = session.execute(
                select(WebSession.expires_at, ApiKey)
                .join(ApiKey, ApiKey.id == WebSession.key_id)
                .where(WebSession.id == _digest(token))
            ).first()
            if row is None:
                return None
            expires_at, key = row
            if expires_at <= utcnow() or key.revoked_at is not None:
                return None
            return Principal(name=key.name, scopes=frozenset(key.scopes), key_id=key.id)

    def close_session(self, token: str) -> None:
        """End a web session (unknown tokens are ignored)."""
        with self._sessions.begin() as session:
            session.execute(delete(WebSession).where(WebSession.id == _digest(token)))
