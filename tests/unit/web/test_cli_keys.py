"""`nunchi keys create|list|revoke` against a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nunchi.apps import APPS
from nunchi.assembly import schema_of
from nunchi.cli import build
from nunchi.config import Settings, get_settings
from nunchi.store.store import open_store
from nunchi.web.keys import KEY_PATTERN, KeyService

app = build()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("NUNCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("NUNCHI_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def _keys(data_dir: Path) -> Iterator[KeyService]:
    # The CLI migrated the store with every app's branch: open it with the same schema.
    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    store = open_store(settings, schema_of(APPS))
    try:
        yield KeyService(store.sessions)
    finally:
        store.close()


def test_create_prints_the_key_once_then_list_and_revoke(data_dir: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "ci", "--scope", "submit", "-s", "read"])
    assert made.exit_code == 0, made.output
    plaintext = made.stdout.strip().splitlines()[-1]
    assert KEY_PATTERN.match(plaintext)
    for keys in _keys(data_dir):
        principal = keys.verify(plaintext)
        assert principal.name == "ci" and principal.scopes == {"submit", "read"}

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ci" in listed.stdout and plaintext not in listed.stdout
    prefix = KEY_PATTERN.match(plaintext).group(1)  # type: ignore[union-attr]
    assert prefix in listed.stdout

    revoked = runner.invoke(app, ["keys", "revoke", prefix])
    assert revoked.exit_code == 0, revoked.output
    for keys in _keys(data_dir):
        assert keys.get(prefix).revoked


def test_bad_scope_is_a_clear_error(data_dir: Path) -> None:
    r = CliRunner().invoke(app, ["keys", "create", "--name", "x", "--scope", "root"])
    assert r.exit_code == 2  # the caller's mistake
    assert "unknown scope 'root'" in r.output and "admin, submit, read" in r.output


def test_revoking_an_unknown_key_fails(data_dir: Path) -> None:
    r = CliRunner().invoke(app, ["keys", "revoke", "ffffffffff"])
    assert r.exit_code == 2
    assert "no API key" in r.output
