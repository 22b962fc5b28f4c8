"""Crash test of the scale-out setup: two ``nunchi worker`` processes share the job topic on
Kafka with one PostgreSQL schema; one is killed with ``kill -9`` mid-batch, the survivor
takes over its partitions after the group rebalance, the killed one comes back, and every job
ends done exactly once."""

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
    job_ids,
    job_partition,
    outbox_rows,
    progress,
    unplanned_attempts,
)
from tests.integration.webhooks.receiver import running_receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.timeout(300),
]

TOTAL = 2000
KILL_AT = 0.2
"""Kill once this fraction of the jobs succeeded (and both workers own partitions)."""
ALL_PARTITIONS = set(range(PARTITIONS))
KAFKA_TEST_QUERY = "consumer.session.timeout.ms=6000&consumer.heartbeat.interval.ms=1000"
"""Quick rebalances on Tansu (a dead member is noticed 6 s after its last heartbeat)."""


def test_scaleout_worker_killed_mid_batch_survivor_takes_over(
    private_kafka_url: str,
    pg_url: str,
    tmp_path: Path,
    worker_processes: WorkerProcesses,
) -> None:
    bus_url = f"{private_kafka_url}?{KAFKA_TEST_QUERY}"
    data = tmp_path / "data"
    env = {
        "NUNCHI_DATA_DIR": str(data),
        "NUNCHI_DATABASE_URL": pg_url,
        "NUNCHI_BUS_URL": bus_url,
        "NUNCHI_DEFAULT_PARTITIONS": str(PARTITIONS),
        "NUNCHI_OUTBOUND_ALLOW_HOSTS": json.dumps(["127.0.0.1/32"]),
    }
    settings = Settings(
        data_dir=data,
        database_url=pg_url,
        bus_url=bus_url,
        default_partitions=PARTITIONS,
        outbound_allow_hosts=["127.0.0.1/32"],  # the receiver the batch's callback goes to
    )
    items = echo_items(TOTAL)
    victim = worker_processes.start("crash-a", env)
    survivor = worker_processes.start("crash-b", env)

    def shared() -> bool:
        a, b = assigned_partitions(victim.log), assigned_partitions(survivor.log)
        if not a or not b:
            return False
        return not (a & b) and (a | b) == ALL_PARTITIONS

    # Work starts only once the group is settled, so neither worker runs the batch alone.
    wait_for(
        shared,
        timeout=120,
        what="the two workers to share the job topic's partitions",
        alive=[victim, survivor],
    )
    with running_receiver() as receiver, open_job_service(settings) as service:
        sessions = service.sessions
        batch = service.submit_batch(ECHO, items, callback_url=receiver.url("/batch"))
        started = time.monotonic()
        wait_for(
            lambda: progress(sessions, batch.id).succeeded >= TOTAL * KILL_AT,
            timeout=120,
            what=f"{KILL_AT:.0%} of the jobs to succeed",
            alive=[victim, survivor],
        )
        lost = assigned_partitions(victim.log)
        assert lost and shared(), "the group rebalanced while the batch ran"
        victim.kill9()
        at_kill = progress(sessions, batch.id)
        assert victim.returncode == -9
        assert TOTAL * KILL_AT <= at_kill.succeeded < TOTAL * 0.8, at_kill.counts
        assert at_kill.queued > 0, at_kill.counts
        twice = unplanned_attempts(sessions, batch.id)
        assert not twice, f"jobs were re-run before any crash: {twice[:5]}"
        on_lost = sum(1 for j in job_ids(sessions, batch.id) if job_partition(j) in lost)
        before = sum(at_kill.succeeded_by_partition.get(p, 0) for p in lost)
        assert on_lost > before, "the killed worker's partitions had no work left"

        takeover = wait_for(
            lambda: assigned_partitions(survivor.log) == ALL_PARTITIONS,
            timeout=60,
            what="the survivor to take over every partition",
            alive=[survivor],
        )

        def done_on_lost() -> int:
            by_partition = progress(sessions, batch.id).succeeded_by_partition
            return sum(by_partition.get(p, 0) for p in lost)

        # The survivor works through the dead worker's partitions (nobody else is alive).
        wait_for(
            lambda: done_on_lost() >= before + min(50, on_lost - before),
            timeout=60,
            what="the survivor to run jobs of the killed worker's partitions",
            alive=[survivor],
        )
        resumed = time.monotonic() - at_kill.at

        comeback = worker_processes.start("crash-a2", env)
        wait_for(
            lambda: finished(sessions, batch.id) == TOTAL,
            timeout=180,
            what="every job to finish",
            alive=[survivor, comeback],
        )
        recovered = time.monotonic() - at_kill.at
        rejoined = assigned_partitions(comeback.log)
        wait_for(
            lambda: outbox_rows(sessions) == 0,
            timeout=90,
            what="the outbox to drain",
            alive=[survivor, comeback],
        )
        drained = time.monotonic() - at_kill.at
        wait_for(lambda: receiver.count() >= 1, 30, "the batch.completed webhook")

        outcome = check_exactly_once(sessions, batch.id, items, at_kill.running)
        assert outcome.retried + outcome.cut_off == TOTAL // 10
        # A job the kill caught running on the killed worker's partitions was cut off: it was
        # run again after the takeover. One running on the survivor's was finished by it at
        # that very attempt (plus its planned retry): nothing else ran it twice.
        cut_off = [j for j in at_kill.running if job_partition(j) in lost]
        not_rerun = [j for j in cut_off if outcome.attempts[j] <= at_kill.running[j]]
        assert not not_rerun, f"jobs cut off by the kill were not run again: {not_rerun[:5]}"
        kept = {j: n for j, n in at_kill.running.items() if job_partition(j) not in lost}
        twice = [j for j, n in kept.items() if outcome.attempts[j] != max(n, outcome.planned[j])]
        assert not twice, f"the survivor's jobs in flight at the kill ran twice: {twice[:5]}"

        check_announced(service, sessions, batch.id, TOTAL, timeout=60)
        assert survivor.terminate() == 0, "the survivor did not stop cleanly on SIGTERM"
        assert comeback.terminate() == 0, "the restarted worker did not stop cleanly"
        check_one_batch_webhook((r.body for r in receiver.requests), TOTAL)

    print(
        f"\n[crash/scale-out] {TOTAL} jobs on {PARTITIONS} partitions, 2 workers; killed the "
        f"owner of partitions {sorted(lost)} after {at_kill.at - started:.1f}s with "
        f"{at_kill.succeeded} succeeded, {at_kill.queued} queued, {len(at_kill.running)} "
        f"running, {at_kill.outbox} outbox rows (all published {drained:.1f}s after the kill); "
        f"survivor owned all partitions {takeover:.1f}s "
        f"after the kill, ran the lost partitions' jobs {resumed:.1f}s after it; all done "
        f"{recovered:.1f}s after the kill (the restarted worker got partitions "
        f"{sorted(rejoined or ())}); "
        f"{len(cut_off)} cut-off jobs re-run, {outcome.extra_attempts} extra attempts, "
        f"{outcome.retried} planned failures retried, {outcome.cut_off} cut off"
    )
