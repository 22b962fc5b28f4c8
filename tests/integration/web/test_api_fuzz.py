"""Property-based check of the whole HTTP API (schemathesis over /openapi.json): whatever a
client sends, the app never answers 5xx, and every error uses the envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from nunchi.assembly import open_platform
from nunchi.config import Settings
from nunchi.web.app import create_app


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[Any]:
    """The API of a real app with every app (auth disabled so requests reach the handlers)
    on its own store."""
    app_settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        bus_url="memory://",
        auth_disabled=True,
        max_body_bytes=64 * 1024,
        allowed_hosts=["testserver"],  # the host name schemathesis' ASGI client sends
    )
    platform = open_platform(app_settings)
    try:
        app = create_app(app_settings, platform=platform)
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        platform.close()


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
