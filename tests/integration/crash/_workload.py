"""The crash tests' workload and checks: a batch of ``diagnostic.echo`` jobs, snapshots of its
progress read straight from the database, the partitions a worker says it owns (from its
log), and the end-state checks that every job was done, none lost and none applied twice."""

from __future__ import annotations

import json
import re
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus import Bus
from nunchi.jobs.models import batches_table, job_events_table, jobs_outbox_table, jobs_table
from nunchi.jobs.topics import JOBS_COMPLETED, job_requested

__all__ = [
    "ECHO",
    "ECHO_STAGE",
    "JOB_TOPIC",
    "PARTITIONS",
    "Outcome",
    "Progress",
    "assigned_partitions",
    "check_announced",
    "check_exactly_once",
    "check_one_batch_webhook",
    "completed_ids",
    "echo_items",
    "finished",
    "job_ids",
    "job_partition",
    "outbox_rows",
    "progress",
    "unplanned_attempts",
]

ECHO = "diagnostic.echo"
"""The job kind the crash tests run."""
ECHO_STAGE = f"jobs.{ECHO}"
"""Its stage name (``nunchi worker --stage``; the name in the runtime's log lines)."""
JOB_TOPIC = job_requested(ECHO)
"""Its request topic."""
PARTITIONS = 4
"""Partitions of the job topic (``NUNCHI_DEFAULT_PARTITIONS``)."""

_J = jobs_table.c
_E = job_events_table.c
_ASSIGNED = re.compile(r"stage (?P<stage>\S+): assigned partitions (?P<parts>.*)$")


def echo_items(total: int, *, fail_every: int = 10, delay_ms: int = 5) -> list[dict[str, Any]]:
    """``total`` echo inputs: payload ``i``, each taking ``delay_ms``; one in ``fail_every``
    fails its first attempt (``fail_attempts=1``) so it must be retried."""
    return [
        {"payload": i, "delay_ms": delay_ms, "fail_attempts": 1 if i % fail_every == 3 else 0}
        for i in range(total)
    ]


def job_partition(job_id: str, partitions: int = PARTITIONS) -> int:
    """The partition of the job topic that carries ``job_id``: job messages are keyed by the
    id and every backend puts a key in ``crc32(key) % partitions``."""
    return zlib.crc32(job_id.encode()) % partitions


@dataclass(frozen=True)
class Progress:
    """A batch's state at one moment, read in one transaction."""

    at: float
    """``time.monotonic()`` when it was read."""
    counts: dict[str, int]
    """Jobs by status."""
    running: dict[str, int]
    """Attempt number of every job that was running."""
    succeeded_by_partition: dict[int, int]
    """Succeeded jobs per job-topic partition."""
    outbox: int
    """Outbox rows not yet published."""

    @property
    def succeeded(self) -> int:
        """Jobs succeeded."""
        return self.counts.get("succeeded", 0)

    @property
    def queued(self) -> int:
        """Jobs waiting for their first (or next) attempt."""
        return self.counts.get("queued", 0)


def progress(sessions: sessionmaker[Session], batch_id: str) -> Progress:
    """Read the batch's :class:`Progress`."""
    with sessions() as s:
        rows = s.execute(select(_J.id, _J.status, _J.attempts).where(_J.batch_id == batch_id)).all()
        outbox = s.scalar(select(func.count()).select_from(jobs_outbox_table)) or 0
    counts = Counter(r.status for r in rows)
    by_partition: Counter[int] = Counter(
        job_partition(r.id) for r in rows if r.status == "succeeded"
    )
    return Progress(
        at=time.monotonic(),
        counts=dict(counts),
        running={r.id: r.attempts for r in rows if r.status == "running"},
        succeeded_by_partition=dict(by_partition),
        outbox=outbox,
    )


def finished(sessions: sessionmaker[Session], batch_id: str) -> int:
    """How many of the batch's jobs are final, succeeded or failed (a cheap query to poll)."""
    with sessions() as s:
        final = _J.status.in_(("succeeded", "failed"))
        return s.scalar(select(func.count()).where(_J.batch_id == batch_id, final)) or 0


def unplanned_attempts(sessions: sessionmaker[Session], batch_id: str) -> list[str]:
    """Jobs attempted more often than their input plans for their current status (a running
    or finished job ``1 + fail_attempts`` times at most, a queued one ``fail_attempts``): work
    done twice. Before any crash or rebalance there must be none."""
    with sessions() as s:
        rows = s.execute(
            select(_J.id, _J.status, _J.attempts, _J.input).where(_J.batch_id == batch_id)
        ).all()
    out = []
    for r in rows:
        planned = int(r.input.get("fail_attempts", 0)) + (0 if r.status == "queued" else 1)
        if r.attempts > planned:
            out.append(r.id)
    return out


def job_ids(sessions: sessionmaker[Session], batch_id: str) -> set[str]:
    """The ids of the batch's jobs."""
    with sessions() as s:
        return set(s.scalars(select(_J.id).where(_J.batch_id == batch_id)))


def outbox_rows(sessions: sessionmaker[Session]) -> int:
    """Outbox rows not yet published."""
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(jobs_outbox_table)) or 0


def assigned_partitions(log: Path, stage: str = ECHO_STAGE) -> set[int] | None:
    """The partitions of ``stage``'s topic that a worker last said it owns (the runtime logs
    ``stage NAME: assigned partitions TOPIC[P], …`` when its assignment changes); None if it
    has said nothing yet."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    last: set[int] | None = None
    for line in text.splitlines():
        m = _ASSIGNED.search(line)
        if m is None or m.group("stage") != stage:
            continue
        parts = m.group("parts").strip()
        last = {int(p) for p in re.findall(r"\[(\d+)\]", parts)}
    return last


def completed_ids(bus: Bus, expect: Iterable[str], timeout: float) -> set[str]:
    """Job ids announced on ``jobs.completed``, read by a new consumer group until every id
    of ``expect`` was seen or ``timeout`` seconds passed."""
    wanted = set(expect)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    with bus.consumer(f"crash-check-{uuid.uuid4().hex[:12]}", [JOBS_COMPLETED]) as consumer:
        while not wanted <= seen and time.monotonic() < deadline:
            for record in consumer.poll(max_records=5000, timeout=0.5):
                seen.add(record.value.decode())
    return seen


@dataclass
class Outcome:
    """What the end-state check found (figures for the report)."""

    attempts: dict[str, int] = field(default_factory=dict)
    """Final attempt count of every job."""
    planned: dict[str, int] = field(default_factory=dict)
    """Attempts every job was planned to take (``1 + fail_attempts``)."""
    retried: int = 0
    """Jobs whose planned failure was recorded and that were retried to success."""
    cut_off: int = 0
    """Jobs whose planned-to-fail first attempt was cut off by the kill instead."""
    extra_attempts: int = 0
    """Attempts beyond the planned ones (attempts cut off by the kill or run twice)."""


def check_exactly_once(
    sessions: sessionmaker[Session],
    batch_id: str,
    items: list[dict[str, Any]],
    running_at_kill: Mapping[str, int],
) -> Outcome:
    """Assert that every job of the batch succeeded exactly once with the right result.

    None lost: one job per item, every one ``succeeded``. None applied twice: exactly one
    ``succeeded`` event per job, and the stored result and finish time are the ones of that
    event's attempt. Every attempt is recorded (``started`` events == ``attempts``). A job
    planned to fail once has its ``attempt_failed`` on attempt 1, unless that attempt was
    cut off by the kill (the job was running at attempt 1 in ``running_at_kill``); either way
    it took at least 2 attempts. No other job ever failed. The batch is completed and its
    completion announced."""
    with sessions() as s:
        jobs = s.execute(select(jobs_table).where(_J.batch_id == batch_id).order_by(_J.id)).all()
        events = s.execute(
            select(_E.job_id, _E.type, _E.attempt, _E.at, _E.detail)
            .join(jobs_table, jobs_table.c.id == _E.job_id)
            .where(_J.batch_id == batch_id)
            .order_by(_E.id)
        ).all()
        batch = s.execute(select(batches_table).where(batches_table.c.id == batch_id)).one()
    by_job: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        by_job[e.job_id].append(e)

    assert len(jobs) == len(items), f"{len(jobs)} job rows for {len(items)} items"
    not_done = [(j.id, j.status) for j in jobs if j.status != "succeeded"]
    assert not not_done, f"{len(not_done)} jobs did not succeed, e.g. {not_done[:5]}"
    payloads = sorted(j.input["payload"] for j in jobs)
    assert payloads == list(range(len(items))), "job inputs do not match the submitted items"

    outcome = Outcome()
    problems: list[str] = []
    for job in jobs:
        history = by_job[job.id]
        types = Counter(e.type for e in history)
        wins = [e for e in history if e.type == "succeeded"]
        planned = items[job.input["payload"]]
        outcome.attempts[job.id] = job.attempts
        outcome.planned[job.id] = 1 + planned["fail_attempts"]
        outcome.extra_attempts += max(0, job.attempts - 1 - planned["fail_attempts"])
        if types["queued"] != 1 or len(wins) != 1 or types["dead_lettered"]:
            problems.append(f"{job.id}: events {dict(types)}")
            continue
        win = wins[0]
        if job.result != {"echo": planned["payload"], "attempt": win.attempt}:
            problems.append(f"{job.id}: result {job.result} but succeeded at attempt {win.attempt}")
        if job.finished_at != win.at:
            problems.append(f"{job.id}: finished_at {job.finished_at} != success {win.at}")
        if types["started"] != job.attempts:
            problems.append(f"{job.id}: {types['started']} started events, {job.attempts} attempts")
        failures = [e for e in history if e.type == "attempt_failed"]
        if not planned["fail_attempts"]:
            if failures:
                problems.append(f"{job.id}: unplanned failures {[e.detail for e in failures]}")
        elif job.attempts < 2:
            problems.append(f"{job.id}: planned to fail once but took {job.attempts} attempt")
        elif failures and failures[0].attempt == 1:
            if failures[0].detail.get("type") != "nunchi.jobs.kinds.DiagnosticFailure":
                problems.append(f"{job.id}: attempt 1 failed with {failures[0].detail}")
            outcome.retried += 1
        elif running_at_kill.get(job.id) == 1 and not failures:
            outcome.cut_off += 1
        else:
            problems.append(f"{job.id}: planned failure not recorded ({dict(types)})")
    assert not problems, f"{len(problems)} jobs were not done exactly once: {problems[:5]}"
    assert batch.total == len(items)
    assert batch.completed_at is not None, "the batch was never marked completed"
    assert batch.completion_notified, "the batch's completion was never announced"
    return outcome


def check_announced(
    service: Any, sessions: sessionmaker[Session], batch_id: str, total: int, timeout: float
) -> None:
    """Every job of the batch succeeded by the batch's counts, and every one was announced
    on ``jobs.completed`` within ``timeout`` seconds."""
    counts = service.get_batch(batch_id).counts
    assert (counts.succeeded, counts.queued, counts.running, counts.failed) == (total, 0, 0, 0)
    ids = job_ids(sessions, batch_id)
    missing = ids - completed_ids(service.bus, ids, timeout=timeout)
    assert not missing, f"{len(missing)} jobs were never announced on jobs.completed"


def check_one_batch_webhook(bodies: Iterable[bytes], total: int) -> None:
    """The receiver got exactly one webhook, ``batch.completed`` with every job succeeded."""
    hooks = [json.loads(body) for body in bodies]
    assert [h["type"] for h in hooks] == ["batch.completed"], "batch announced != once"
    assert hooks[0]["data"]["counts"]["succeeded"] == total
