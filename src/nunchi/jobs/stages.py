"""The stages that run jobs: one per kind on ``jobs.<kind>.requested`` (value = job id).

A poll's deliveries are handled in chunks: one transaction marks the chunk's jobs running
(counting an attempt and recording ``started``), the jobs run, and one transaction stores
the outcomes; the chunk grows while jobs are fast (thousands per second for no-op jobs on
SQLite) and shrinks to one while they are slow (so ``started`` is recorded when a job really
starts). Every write is a conditional update, so a redelivered message never applies twice:
a job already succeeded or failed is skipped, and only one success is ever stored.

A failed attempt records ``attempt_failed`` and re-raises so the runtime retries it. On the
attempt after which the runtime will dead-letter (the kind's retry policy says no more), the
handler also marks the job ``failed`` with the error and records ``dead_lettered``, in the same
transaction. The optional dead-letter stages (``jobs.<kind>.dlq`` on ``<topic>.dlq``) do the same
from the DLQ record, idempotently; they are a safety net for jobs dead-lettered by other means.
Final states are announced through the outbox: the id on ``jobs.completed``, a webhook request
for jobs (and batches, exactly once) that have a callback URL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from nunchi import strictjson
from nunchi.bus.topics import dlq_topic
from nunchi.errors import PermanentError
from nunchi.jobs.kinds import JobContext, JobKind, KindRegistry
from nunchi.jobs.lifecycle import (
    StartedJob,
    complete_batches,
    completion_messages,
    job_completed_messages,
    record_attempt_failures,
    record_dead_letter,
    record_successes,
    start_jobs,
)
from nunchi.jobs.service import JobService
from nunchi.jobs.topics import job_requested
from nunchi.outbound import GuardedClient
from nunchi.runtime.deadletter import DeadLetter
from nunchi.runtime.failures import error_record
from nunchi.runtime.stage import Delivery, Handler, RetryPolicy, Stage, StageContext
from nunchi.store.types import utcnow

__all__ = ["DEAD_LETTER_RETRY", "dead_letter_handler", "job_stages"]

log = logging.getLogger(__name__)

DEAD_LETTER_RETRY = RetryPolicy(max_attempts=20, base_delay=1.0, max_delay=60.0)
"""Retry policy of the dead-letter stages (a DB outage should not lose a failure record)."""

_MAX_CHUNK = 512
_CHUNK_SECONDS = 0.05
"""Target run time of one chunk: bounds how early ``started`` is recorded for its last job."""


class _UndecodableJobId(PermanentError):
    """The message value is not a job id."""


@dataclass
class _Outcome:
    delivery_index: int
    job: StartedJob | None = None
    result: Any = None
    error: BaseException | None = None
    final: bool = False


class _KindRunner:
    """Runs the jobs of one kind for the ``jobs.<kind>`` stage."""

    def __init__(self, service: JobService, kind: JobKind[Any], client: GuardedClient) -> None:
        self.service = service
        self.kind = kind
        self.client = client
        self._run_seconds = 1.0
        """Moving average of one successful job's run time; starts pessimistic (one job per
        chunk)."""
        self._seen = False

    def handle(self, delivery: Delivery, ctx: StageContext) -> None:
        """Handle one delivery (raises its failure)."""
        error = self.handle_batch([delivery], ctx)[0]
        if error is not None:
            raise error

    def handle_batch(
        self, deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        """Handle a poll's deliveries in chunks sized so that one chunk's jobs run for about
        ``_CHUNK_SECONDS`` (from the measured run time per job); one outcome per delivery."""
        outcomes: list[BaseException | None] = [None] * len(deliveries)
        start = 0
        while start < len(deliveries):
            size = max(1, min(_MAX_CHUNK, int(_CHUNK_SECONDS / max(self._run_seconds, 1e-6))))
            size = min(size, len(deliveries) - start)
            self._process(deliveries, range(start, start + size), outcomes, ctx)
            start += size
        return outcomes

    def _process(
        self,
        deliveries: Sequence[Delivery],
        indexes: range,
        outcomes: list[BaseException | None],
        ctx: StageContext,
    ) -> None:
        ids: dict[str, int] = {}
        for i in indexes:
            raw = deliveries[i].record.value
            try:
                job_id = raw.decode("ascii")
            except UnicodeDecodeError:
                outcomes[i] = _UndecodableJobId(f"message value {raw[:40]!r} is not a job id")
                continue
            ids.setdefault(job_id, i)  # a duplicate within the chunk is skipped
        if not ids:
            return
        try:
            with self.service.sessions.begin() as s:
                started = start_jobs(s, list(ids), utcnow())
        except Exception as e:
            for i in ids.values():
                outcomes[i] = e
            return
        self.service.announce(started, {j.batch_id for j in started.values()})
        runs = [
            self._run(ids[job.id], job, deliveries[ids[job.id]], ctx) for job in started.values()
        ]
        try:
            self._store(runs)
        except Exception as e:
            for run in runs:
                outcomes[run.delivery_index] = e
            return
        for run in runs:
            outcomes[run.delivery_index] = run.error

    def _run(self, index: int, job: StartedJob, delivery: Delivery, ctx: StageContext) -> _Outcome:
        outcome = _Outcome(index, job)
        try:
            try:
                data = self.kind.input_model.model_validate(job.input)
            except ValidationError as e:
                raise PermanentError(
                    f"stored input no longer valid for {self.kind.name}: {e}"
                ) from e
            context = JobContext(
                job_id=job.id,
                kind=job.kind,
                attempt=job.attempt,
                sessions=self.service.sessions,
                bus=ctx.bus,
                blobs=self.service.blobs,
                client=self.client,
                settings=self.service.settings,
                batch_id=job.batch_id,
            )
            began = time.monotonic()
            result = self.kind.run(context, data)
            # Only successful runs are timed: an attempt that fails at once says nothing about
            # how long the work takes (counting it made the next chunk hundreds of jobs long).
            took = time.monotonic() - began
            self._run_seconds = 0.8 * self._run_seconds + 0.2 * took if self._seen else took
            self._seen = True
            try:
                strictjson.check(result, "result")
                outcome.result = json.loads(json.dumps(result))
            except (TypeError, ValueError, strictjson.InvalidDocument) as e:
                raise PermanentError(
                    f"job kind {self.kind.name!r} returned a result that cannot be stored: {e}"
                ) from e
        except Exception as e:
            outcome.error = e
            outcome.final = not self.kind.retry.should_retry(e, delivery.attempt)
        return outcome

    def _store(self, runs: list[_Outcome]) -> None:
        now = utcnow()
        successes = [(r.job, r.result) for r in runs if r.job is not None and r.error is None]
        failures = [(r.job, r.error) for r in runs if r.job is not None and r.error is not None]
        with self.service.sessions.begin() as s:
            finished = record_successes(s, successes, now)
            record_attempt_failures(s, failures, now)
            for run in runs:
                if run.job is None or run.error is None or not run.final:
                    continue
                error = error_record(run.error, with_traceback=True)
                detail = {"type": error["type"], "source": "handler"}
                if record_dead_letter(s, run.job.id, error, detail, now) is not None:
                    finished.append(run.job.id)
            messages, batches = completion_messages(s, finished)
            messages.extend(complete_batches(s, batches, now))
            pending = self.service.outbox.stage(s, messages)
        self.service.outbox.flush(pending)
        self.service.announce(
            [r.job.id for r in runs if r.job is not None],
            {r.job.batch_id for r in runs if r.job is not None},
        )


class _DeadLetterRunner:
    """Marks dead-lettered jobs failed (idempotent: a job already final is left alone)."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    def handle(self, delivery: Delivery, ctx: StageContext) -> None:
        """Record the failure carried by one DLQ record."""
        dead = DeadLetter.from_record(delivery.record)
        try:
            job_id = dead.value.decode("ascii")
        except UnicodeDecodeError:
            log.warning("dead letter on %s is not a job id; ignored", delivery.record.topic)
            return
        error = {
            "type": dead.error_type or "unknown",
            "message": dead.error_message,
            "traceback": dead.traceback or None,
        }
        detail = {"type": error["type"], "attempts": dead.attempts, "stage": dead.stage}
        now = utcnow()
        with self.service.sessions.begin() as s:
            row = record_dead_letter(s, job_id, error, detail, now)
            messages = job_completed_messages(row) if row is not None else []
            if row is not None and row["batch_id"]:
                messages.extend(complete_batches(s, [row["batch_id"]], now))
            pending = self.service.outbox.stage(s, messages)
        self.service.outbox.flush(pending)
        if row is not None:
            self.service.announce([job_id], [row["batch_id"]])


def job_stages(
    service: JobService,
    registry: KindRegistry | None = None,
    *,
    client: GuardedClient | None = None,
    dead_letter_stages: bool = False,
) -> list[Stage]:
    """The stages that run every kind in ``registry`` (default: the service's registry);
    jobs fetch outside URLs through ``client`` (default: one made from the service's
    settings).

    With ``dead_letter_stages``, adds a ``jobs.<kind>.dlq`` stage per kind on the kind's
    dead-letter topic (needs a runtime that accepts stages on dead-letter topics)."""
    registry = registry if registry is not None else service.registry
    client = client if client is not None else GuardedClient.from_settings(service.settings)
    stages: list[Stage] = []
    for name in registry.names():
        kind = registry.get(name)
        runner = _KindRunner(service, kind, client)
        stages.append(
            Stage(
                name=f"jobs.{name}",
                topic=job_requested(name),
                handle=runner.handle,
                handle_batch=runner.handle_batch,
                retry=kind.retry,
                concurrency=kind.concurrency,
            )
        )
        if dead_letter_stages:
            stages.append(
                Stage(
                    name=f"jobs.{name}.dlq",
                    topic=dlq_topic(job_requested(name)),
                    handle=_DeadLetterRunner(service).handle,
                    retry=DEAD_LETTER_RETRY,
                )
            )
    return stages


def dead_letter_handler(service: JobService) -> Handler:
    """The handler of the dead-letter stages, for runtimes that consume DLQs their own way."""
    return _DeadLetterRunner(service).handle
