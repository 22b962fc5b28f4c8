"""Fixtures for the runtime tests: a fresh bus per test, of every backend."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from nunchi.bus.base import Bus

BACKENDS = ["memory", "sqlite"]


def _open_bus(kind: str, tmp_path: Path) -> Bus:
    if kind == "memory":
        from nunchi.bus.memory import MemoryBus

        return MemoryBus()
    if importlib.util.find_spec("nunchi.bus.sqlite") is None:
        pytest.skip("nunchi.bus.sqlite is not written yet")
    from nunchi.bus.sqlite import SqliteBus

    return SqliteBus(str(tmp_path / "bus.db"))


@pytest.fixture(params=BACKENDS)
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    """A fresh bus of each backend."""
    b = _open_bus(request.param, tmp_path)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def memory_bus() -> Iterator[Bus]:
    """A fresh in-memory bus (for tests about the runtime alone)."""
    from nunchi.bus.memory import MemoryBus

    b = MemoryBus()
    try:
        yield b
    finally:
        b.close()
