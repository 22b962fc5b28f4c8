"""Job kinds and the registry; the built-in diagnostic.echo kind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy.orm import sessionmaker

from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.jobs.kinds import (
    ECHO,
    DiagnosticFailure,
    EchoInput,
    JobContext,
    JobKind,
    KindRegistry,
    echo_kind,
)
from nunchi.outbound import GuardedClient
from nunchi.runtime.stage import RetryPolicy


class _In(BaseModel):
    n: int


def _run(ctx: JobContext, data: _In) -> dict[str, Any]:
    return {"n": data.n}


def ctx(attempt: int) -> JobContext:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return JobContext(
        job_id="0" * 32,
        kind="diagnostic.echo",
        attempt=attempt,
        sessions=sessionmaker(),
        bus=MemoryBus(),
        blobs=None,
        client=GuardedClient.from_settings(settings),
        settings=settings,
    )


def test_the_platform_registry_has_echo_and_every_apps_kinds(tmp_path: Path) -> None:
    from nunchi.apps import APPS
    from nunchi.assembly import open_platform

    settings = Settings(_env_file=None, data_dir=tmp_path, bus_url="memory://")  # type: ignore[call-arg]
    platform = open_platform(settings)
    try:
        names = platform.core.registry.names()
        assert "diagnostic.echo" in names and platform.core.registry.get("diagnostic.echo") is ECHO
        assert "text.analyze" in names
        assert {a.name for a in APPS} == {a.name for a in platform.apps}
    finally:
        platform.close()


def test_unknown_kind_lists_known_ones() -> None:
    registry = KindRegistry([ECHO, JobKind("vision.identify", _In, _run)])
    with pytest.raises(
        InvalidInput, match=r"unknown job kind 'x'; known kinds: diagnostic\.echo, vision\.identify"
    ):
        registry.get("x")
    with pytest.raises(InvalidInput, match=r"known kinds: \(none\)"):
        KindRegistry().get("x")


def test_duplicate_registration() -> None:
    registry = KindRegistry([ECHO])
    registry.register(ECHO)  # the same object again is fine
    with pytest.raises(ValueError, match="already registered"):
        registry.register(echo_kind())
    replaced = echo_kind(retry=RetryPolicy(max_attempts=1))
    registry.register(replaced, replace=True)
    assert registry.get("diagnostic.echo") is replaced


def test_copy_is_independent() -> None:
    registry = KindRegistry([ECHO])
    copy = registry.copy()
    copy.register(JobKind("test.only", _In, _run))
    assert "test.only" in copy and "test.only" not in registry


@pytest.mark.parametrize("name", ["", "Echo", "a..b", "a-b", "1abc", "a.", ".a", "a b"])
def test_bad_kind_names(name: str) -> None:
    with pytest.raises(ValueError, match="bad job kind name"):
        JobKind(name, _In, _run)


def test_input_model_must_be_pydantic() -> None:
    with pytest.raises(TypeError, match="pydantic"):
        JobKind("x.y", dict, _run)  # type: ignore[type-var,arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        JobKind("x.y", _In, _run, concurrency=0)


def test_echo_defaults_and_limits() -> None:
    assert EchoInput().model_dump() == {"delay_ms": 0, "fail_attempts": 0, "payload": None}
    for bad in ({"delay_ms": 60_001}, {"delay_ms": -1}, {"fail_attempts": 101}, {"extra": 1}):
        with pytest.raises(ValueError):
            EchoInput.model_validate(bad)


def test_echo_fails_while_attempt_is_at_most_fail_attempts() -> None:
    data = EchoInput(fail_attempts=2, payload={"k": "값"})
    for attempt in (1, 2):
        with pytest.raises(DiagnosticFailure, match=f"attempt {attempt}"):
            ECHO.run(ctx(attempt), data)
    assert ECHO.run(ctx(3), data) == {"echo": {"k": "값"}, "attempt": 3}


def test_echo_waits_delay_ms() -> None:
    began = time.monotonic()
    ECHO.run(ctx(1), EchoInput(delay_ms=50))
    assert time.monotonic() - began >= 0.045


def test_items_adapter_reports_item_index() -> None:
    with pytest.raises(ValueError) as info:
        ECHO.items_adapter().validate_python([{}, {"delay_ms": "x"}])
    assert info.value.errors()[0]["loc"][:2] == (1, "delay_ms")  # type: ignore[attr-defined]
