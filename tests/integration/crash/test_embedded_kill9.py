"""Crash test of the embedded setup: ``kill -9`` of a ``nunchi worker`` mid-batch, SQLite
store and SQLite event log; a new worker finishes the batch with every job done exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nunchi.config import Settings
from tests.fixtures.platforms import open_job_service
from tests.fixtures.processes import WorkerProcesses, wait_for
from tests.integration.crash._workload import (
    ECHO,
    PARTITIONS,
    assigned_partitions,
    check_announced,
    check_exactly_once,
    check_one_batch_webhook,
    echo_items,
    finished,
    outbox_rows,
    progress,
    unplanned_attempts,
)
from tests.integration.webhooks.receiver import running_receiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TOTAL = 2000
KILL_AT = 0.2
"""Kill once this fraction of the jobs succeeded."""
ALL_PARTITIONS = set(range(PARTITIONS))


def test_embedded_worker_killed_mid_batch_loses_nothing_and_repeats_nothing(
    tmp_path: Path, worker_processes: WorkerProcesses
) -> None:
    data = tmp_path / "data"
    env = {
        "NUNCHI_DATA_DIR": str(data),
        "NUNCHI_DEFAULT_PARTITIONS": str(PARTITIONS),
        "NUNCHI_OUTBOUND_ALLOW_HOSTS": json.dumps(["127.0.0.1/32"]),
    }
    settings = Settings(
        data_dir=data,
        default_partitions=PARTITIONS,
        database_url="",
        bus_url="",
        outbound_allow_hosts=["127.0.0.1/32"],  # the receiver the batch's callback goes to
    )
    items = echo_items(TOTAL)
    with running_receiver() as receiver, open_job_service(settings) as service:
        sessions = service.sessions
        batch = service.submit_batch(ECHO, items, callback_url=receiver.url("/batch"))
        started = time.monotonic()

        first = worker_processes.start("crash-1", env)
        wait_for(
            lambda: progress(sessions, batch.id).succeeded >= TOTAL * KILL_AT,
            timeout=120,
            what=f"{KILL_AT:.0%} of the jobs to succeed",
            alive=[first],
        )
        first.kill9()
        at_kill = progress(sessions, batch.id)
        assert first.returncode == -9
        assert assigned_partitions(first.log) == ALL_PARTITIONS, "worker 1 never owned the jobs"
        # The kill landed mid-batch: work done, work left.
        assert TOTAL * KILL_AT <= at_kill.succeeded < TOTAL * 0.8, at_kill.counts
        assert at_kill.queued > 0, at_kill.counts
        twice = unplanned_attempts(sessions, batch.id)
        assert not twice, f"jobs were re-run before any crash: {twice[:5]}"

        second = worker_processes.start("crash-2", env)
        takeover = wait_for(
            lambda: assigned_partitions(second.log) == ALL_PARTITIONS,
            timeout=60,
            what="the new worker to take over every partition",
            alive=[second],
        )
        wait_for(
            lambda: finished(sessions, batch.id) == TOTAL,
            timeout=180,
            what="every job to finish",
            alive=[second],
        )
        recovered = time.monotonic() - at_kill.at
        wait_for(lambda: outbox_rows(sessions) == 0, 90, "the outbox to drain", alive=[second])
        drained = time.monotonic() - at_kill.at
        wait_for(lambda: receiver.count() >= 1, 30, "the batch.completed webhook")

        outcome = check_exactly_once(sessions, batch.id, items, at_kill.running)
        assert outcome.retried + outcome.cut_off == TOTAL // 10
        # Every job the kill caught running was run again by the new worker.
        not_rerun = [j for j, n in at_kill.running.items() if outcome.attempts[j] <= n]
        assert not not_rerun, f"jobs cut off by the kill were not run again: {not_rerun[:5]}"
        # ...and only those: no other job took more attempts than planned.
        extra = {j for j, n in outcome.attempts.items() if n > outcome.planned[j]}
        assert extra <= set(at_kill.running), f"jobs ran twice: {sorted(extra)[:5]}"

        check_announced(service, sessions, batch.id, TOTAL, timeout=30)
        assert second.terminate() == 0, "the worker did not stop cleanly on SIGTERM"
        check_one_batch_webhook((r.body for r in receiver.requests), TOTAL)

    print(
        f"\n[crash/embedded] {TOTAL} jobs; killed after {at_kill.at - started:.1f}s with "
        f"{at_kill.succeeded} succeeded, {at_kill.queued} queued, {len(at_kill.running)} "
        f"running, {at_kill.outbox} outbox rows (all published {drained:.1f}s after the kill); "
        f"new worker owned all partitions "
        f"{takeover:.1f}s after its start; all done {recovered:.1f}s after the kill; "
        f"{outcome.extra_attempts} extra attempts, {outcome.retried} planned failures "
        f"retried, {outcome.cut_off} cut off by the kill"
    )
