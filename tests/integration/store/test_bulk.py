"""`bulk_insert`: COPY on PostgreSQL, INSERT on SQLite, the same rows either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from nunchi.config import Settings
from nunchi.jobs.models import job_events_table, jobs_table
from nunchi.store import open_store
from nunchi.store.bulk import COPY_MIN_ROWS, bulk_insert
from nunchi.store.ids import new_id
from nunchi.store.store import Store


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(Settings(database_url=db_url, data_dir=tmp_path))
    yield opened
    opened.close()


def _jobs(n: int) -> list[dict[str, object]]:
    seoul = timezone(timedelta(hours=9))
    at = datetime(2026, 11, 30, 18, 0, tzinfo=seoul)
    return [
        {
            "id": new_id(),
            "kind": "diagnostic.echo",
            "status": "queued",
            "attempts": 0,
            "batch_id": None,
            "input": {"payload": f"안녕 {i}", "tab": "a\tb\nc\\d", "none": None, "n": i},
            "created_at": at,
            "updated_at": at,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [3, COPY_MIN_ROWS + 50])
def test_rows_read_back_as_inserted(store: Store, n: int) -> None:
    rows = _jobs(n)
    with store.sessions.begin() as s:
        bulk_insert(s, jobs_table, rows)
        bulk_insert(s, job_events_table, [
            {"job_id": r["id"], "at": r["created_at"], "type": "queued", "actor": "나"}
            for r in rows
        ])
    with store.sessions() as s:
        got = {r.id: r for r in s.execute(select(jobs_table)).all()}
        events = s.execute(select(job_events_table)).all()
    assert len(got) == n and len(events) == n
    for row in rows:
        back = got[str(row["id"])]
        assert back.input == row["input"]
        assert back.created_at == row["created_at"]
        assert back.created_at.tzinfo is not None and back.created_at.utcoffset() == timedelta(0)
        assert back.result is None and back.error is None
    assert {e.actor for e in events} == {"나"}
    assert {e.attempt for e in events} == {0}  # server default applied
    assert all(e.at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC) for e in events)


def test_a_failed_copy_leaves_nothing(store: Store) -> None:
    rows = _jobs(COPY_MIN_ROWS + 1)
    rows[-1]["id"] = rows[0]["id"]  # duplicate primary key: the whole statement fails
    # the driver's own error (psycopg's on COPY, SQLAlchemy's IntegrityError on SQLite)
    with pytest.raises(Exception, match=r"(?i)unique"), store.sessions.begin() as s:
        bulk_insert(s, jobs_table, rows)
    with store.sessions() as s:
        assert s.execute(select(jobs_table)).all() == []


def test_rows_with_different_columns_are_refused(store: Store, db_url: str) -> None:
    rows = _jobs(COPY_MIN_ROWS + 1)
    del rows[5]["batch_id"]
    if db_url.startswith("postgresql"):  # COPY: bulk_insert's own check
        expected: type[Exception] = ValueError
        message = "rows have different columns"
    else:  # executemany: SQLAlchemy names the missing value
        expected, message = StatementError, "batch_id"
    with pytest.raises(expected, match=message), store.sessions.begin() as s:
        bulk_insert(s, jobs_table, rows)
    with store.sessions() as s:
        assert s.execute(select(jobs_table)).all() == []
