"""A whole platform (every app) for the chat tests, on SQLite and PostgreSQL, with an in-memory
bus and the chat stages run in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nunchi.apps.chat.app import CHAT_APP
from nunchi.apps.chat.services import ChatServices
from nunchi.assembly import Platform, open_platform
from nunchi.config import Settings
from nunchi.web.app import create_app

CHAT_STAGES = ["chat.score", "chat.store"]


def chat_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": db_url,
        "bus_url": "memory://",
        "chat_scorers": 0,
        "auth_disabled": True,
        "outbound_allow_hosts": ["127.0.0.1/32"],
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def platform(db_url: str, tmp_path: Path) -> Iterator[Platform]:
    opened = open_platform(chat_settings(tmp_path, db_url))
    yield opened
    opened.stop()
    opened.close()


@pytest.fixture
def chat(platform: Platform) -> ChatServices:
    return platform.services(CHAT_APP)


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform.settings, platform=platform)
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as c:
        yield c


def batch(
    ids: range | list[int],
    *,
    author: str = "viewer",
    text: str = "오늘 방송 재밌다 ㅋㅋ",
    sent_at: str = "2026-12-01T10:00:30+00:00",
) -> dict[str, Any]:
    """An ingest body of one message per id."""
    return {
        "platform": "http",
        "channel": "test",
        "messages": [
            {
                "message_id": f"m{i}",
                "author_id": author,
                "author_name": author,
                "text": text,
                "sent_at": sent_at,
            }
            for i in ids
        ],
    }
