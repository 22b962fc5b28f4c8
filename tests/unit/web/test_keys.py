"""KeyService on a migrated SQLite store: create, verify, list, revoke, web sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update

from nunchi.errors import InvalidInput, NotFound, Unauthorized
from nunchi.store.base import Base
from nunchi.store.store import Store
from nunchi.web.keys import KEY_PATTERN, ApiKey, KeyService, Principal, WebSession


def test_create_returns_plaintext_once_and_stores_only_a_digest(
    keys: KeyService, store: Store
) -> None:
    info, plaintext = keys.create("ci", ["submit"])
    assert KEY_PATTERN.match(plaintext)
    assert plaintext.startswith(f"nk_{info.prefix}_")
    assert info.scopes == ("submit",)
    with store.sessions() as s:
        row = s.get(ApiKey, info.id)
        assert row is not None
        assert plaintext not in (row.hash, row.prefix, row.name)
        assert len(row.hash) == 64


def test_verify_gives_the_principal(keys: KeyService) -> None:
    info, plaintext = keys.create("alice", ["admin"])
    principal = keys.verify(plaintext)
    assert principal == Principal(name="alice", scopes=frozenset({"admin"}), key_id=info.id)
    assert principal.allows("submit") and principal.allows("read")


def test_scope_implications() -> None:
    submit = Principal("s", frozenset({"submit"}))
    read = Principal("r", frozenset({"read"}))
    assert submit.allows("read") and submit.allows("submit") and not submit.allows("admin")
    assert read.allows("read") and not read.allows("submit")


def test_verify_refuses_wrong_malformed_and_tampered_keys(keys: KeyService) -> None:
    _, plaintext = keys.create("bob", ["read"])
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    for bad in (tampered, "nk_0000000000_" + "x" * 43, "hello", "", plaintext + " extra"):
        with pytest.raises(Unauthorized):
            keys.verify(bad)


def test_verify_records_last_use(keys: KeyService) -> None:
    info, plaintext = keys.create("carol", ["read"])
    assert keys.get(info.id).last_used_at is None
    keys.verify(plaintext)
    assert keys.get(info.id).last_used_at is not None


def test_revoke_by_prefix_or_id_stops_verification(keys: KeyService) -> None:
    a, key_a = keys.create("a", ["read"])
    b, key_b = keys.create("b", ["read"])
    assert keys.revoke(a.prefix).revoked
    assert keys.revoke(b.id).revoked
    for plaintext in (key_a, key_b):
        with pytest.raises(Unauthorized, match="revoked"):
            keys.verify(plaintext)
    first = keys.get(a.id).revoked_at
    keys.revoke(a.id)  # revoking twice keeps the first time
    assert keys.get(a.id).revoked_at == first


def test_revoke_unknown_key_is_not_found(keys: KeyService) -> None:
    with pytest.raises(NotFound, match="nunchi keys list"):
        keys.revoke("ffffffffff")


def test_list_shows_keys_without_secrets(keys: KeyService) -> None:
    a, _ = keys.create("one", ["read"])
    keys.create("two", ["admin", "read"])
    keys.revoke(a.id)
    listed = keys.list()
    assert [k.name for k in listed] == ["one", "two"]
    assert [k.name for k in keys.list(include_revoked=False)] == ["two"]
    assert listed[1].scopes == ("admin", "read")


@pytest.mark.parametrize(
    ("name", "scopes", "message"),
    [
        ("", ["read"], "name is empty"),
        ("x" * 101, ["read"], "limit is 100"),
        ("ok", [], "at least one scope"),
        ("ok", ["read", "root"], "unknown scope 'root'"),
    ],
)
def test_create_rejects_bad_input_with_a_fix(
    keys: KeyService, name: str, scopes: list[str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        keys.create(name, scopes)
    assert keys.list() == []


def test_web_sessions_open_check_close(keys: KeyService) -> None:
    _, plaintext = keys.create("web", ["submit"])
    principal = keys.verify(plaintext)
    token = keys.open_session(principal, timedelta(hours=1))
    assert plaintext not in token
    assert keys.session_principal(token) == principal
    assert keys.session_principal(token + "x") is None
    keys.close_session(token)
    assert keys.session_principal(token) is None


def test_web_session_expires_and_ends_with_revocation(keys: KeyService, store: Store) -> None:
    info, plaintext = keys.create("web", ["admin"])
    principal = keys.verify(plaintext)
    expired = keys.open_session(principal, timedelta(hours=1))
    live = keys.open_session(principal, timedelta(hours=1))
    with store.sessions.begin() as s:  # age one session past its expiry
        row = s.scalars(select(WebSession).limit(1)).first()
        assert row is not None
        s.execute(
            update(WebSession)
            .where(WebSession.id == row.id)
            .values(expires_at=row.created_at - timedelta(seconds=1))
        )
    alive = [t for t in (expired, live) if keys.session_principal(t) is not None]
    assert len(alive) == 1
    keys.revoke(info.id)
    assert keys.session_principal(alive[0]) is None


def test_migration_creates_exactly_the_model_tables(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"api_keys", "web_sessions"} <= tables
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "api_keys" in repr(d) or "web_sessions" in repr(d)]
    assert ours == []
