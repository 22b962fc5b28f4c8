"""Property-based check of the whole HTTP API (schemathesis over /openapi.json): whatever a
client sends, the app never answers 5xx, and every error uses the envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.jobs.service import JobService
from nunchi.store.store import Store, open_store
from nunchi.web.app import create_app
from nunchi.web.keys import KeyService
from nunchi.web.services import AppServices, bus_check, database_check


@pytest.fixture
def fuzz_store(tmp_path: Path) -> Any:
    store: Store = open_store(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]
    yield store
    store.close()


@pytest.fixture
def api_schema(fuzz_store: Store, tmp_path: Path) -> Any:
    """The API of a real app (auth disabled so requests reach the handlers) on its own store."""
    app_settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        bus_url="memory://",
        auth_disabled=True,
        max_body_bytes=64 * 1024,
        allowed_hosts=["testserver"],  # the host name schemathesis' ASGI client sends
    )
    bus = MemoryBus()
    services = AppServices(
        jobs=JobService(fuzz_store.sessions, bus, None, app_settings),
        keys=KeyService(fuzz_store.sessions),
        sessions=fuzz_store.sessions,
        bus=bus,
        readiness={"database": database_check(fuzz_store.sessions), "bus": bus_check(bus)},
    )
    try:
        from nunchi.jobs.webhooks.service import WebhookService

        services.webhooks = WebhookService(fuzz_store.sessions, bus)
    except ModuleNotFoundError:  # pragma: no cover - webhooks land separately
        pass
    app = create_app(app_settings, services=services)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


MAX_EXAMPLES = 30
"""Examples per operation; the whole API runs in well under a minute."""


def test_no_server_errors(api_schema: Any) -> None:
    # Driven by hand (as_strategy) rather than @schema.parametrize: the schema needs this
    # test's own store, and schemathesis' fixture loader does not support pytest 9 yet.
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        checked.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_5xx(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400 and case.path != "/readyz":
                err = response.json()["error"]
                assert err["code"] and err["message"] and err["request_id"]

        no_5xx()
    assert "POST /api/v1/jobs" in checked and "GET /healthz" in checked
