"""The SQLite files' WAL is copied into the database file by a background checkpoint (the
store's engine and the event log alike), not only by the automatic checkpoint inside a commit
that crosses 1,000 WAL pages. Seen by reading the file with ``immutable=1``, which ignores the
WAL: the rows are there only once a checkpoint copied them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from nunchi.bus.sqlite import SqliteBus
from nunchi.store.db import create_engine_for
from tests.fixtures.processes import wait_for


def _in_file(path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the table itself is still only in the WAL
        return 0
    finally:
        conn.close()


def test_the_store_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
        assert (tmp_path / "store.db-wal").stat().st_size > 0
        wait_for(lambda: _in_file(path, "SELECT count(*) FROM t") == 3, 15,
                 "the rows in the database file")  # fmt: skip
    finally:
        engine.dispose()


def test_the_log_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "bus.db"
    bus = SqliteBus(str(path))
    try:
        bus.ensure_topic("t", 1)
        for i in range(5):
            bus.publish("t", str(i).encode())
        wait_for(lambda: _in_file(path, "SELECT count(*) FROM records") == 5, 15,
                 "the records in the log file")  # fmt: skip
    finally:
        bus.close()
