"""Time-ordered job ids and the API shapes built from rows."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from nunchi.jobs.schemas import JobDetail, JobOut
from nunchi.store.ids import new_id


def test_ids_are_uuid7_hex() -> None:
    value = new_id()
    assert len(value) == 32 and int(value, 16) >= 0
    parsed = uuid.UUID(value)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    ms = int(value[:12], 16)
    assert abs(ms / 1000 - time.time()) < 5


def test_ids_strictly_increase_even_within_a_millisecond() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_ids_are_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def make(i: int) -> None:
        out[i].extend(new_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = [i for chunk in out for i in chunk]
    assert len(set(every)) == 20_000
    for chunk in out:
        assert chunk == sorted(chunk)


def _row(**over: object) -> dict[str, object]:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    row: dict[str, object] = {
        "id": "0" * 32,
        "kind": "diagnostic.echo",
        "status": "failed",
        "input": {},
        "result": None,
        "error": {"type": "ValueError", "message": "no", "traceback": "Traceback ..."},
        "attempts": 3,
        "batch_id": None,
        "callback_url": None,
        "created_at": now,
        "started_at": now,
        "finished_at": now,
        "updated_at": now,
    }
    row.update(over)
    return row


def test_job_out_hides_the_traceback_details_show_it() -> None:
    out = JobOut.from_row(_row())
    assert out.error is not None and out.error.traceback is None
    assert out.error.type == "ValueError"
    detail = JobDetail.from_rows(_row(), [])
    assert detail.error is not None and detail.error.traceback == "Traceback ..."
    assert JobOut.from_row(_row(error=None, status="queued")).error is None
