"""Nudges between processes on PostgreSQL: a nudge in one core (a worker storing chat) wakes a
subscriber of the same channel in another core on the same database (the API tier's live
page); a core does not hear its own relayed nudges twice; other channels stay asleep."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nunchi.config import Settings
from nunchi.core import Core, open_core
from nunchi.jobs.kinds import KindRegistry

pytestmark = pytest.mark.postgres


def test_a_nudge_in_one_process_wakes_a_page_in_another(pg_url: str, tmp_path: Path) -> None:
    def core(name: str) -> Core:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path / name, database_url=pg_url, bus_url="memory://"
        )
        return open_core(settings, KindRegistry([]))

    worker, api = core("worker"), core("api")
    try:
        assert worker.relay is not None and api.relay is not None

        async def listen() -> tuple[bool, bool, bool]:
            with (
                api.nudges.subscribe("chat:b1") as page,
                api.nudges.subscribe("chat:other") as other,
            ):
                worker.nudges.nudge(["chat:b1"])
                woke = await page.wait(10.0)
                quiet = await other.wait(0.3)
                again = await page.wait(0.3)  # one nudge, one wake-up
                return woke, quiet, again

        woke, quiet, again = asyncio.run(listen())
        assert woke and not quiet and not again
    finally:
        worker.close()
        api.close()
    assert api.relay.nudges.relay is None  # stopped with the core
