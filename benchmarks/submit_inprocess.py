"""``JobService.submit_batch`` of N items in-process on PostgreSQL (memory event log): the
store's share of ``nunchi bench batch``. Prints one JSON line.

``python -m benchmarks.submit_inprocess [N] [REPEATS]`` from the repository root, with
PostgreSQL at 127.0.0.1:5432 (database ``test``); a fresh schema is made and dropped.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._proc import bench_settings, job_service, pg_schema
from benchmarks.pipeline import machine_info

__all__ = ["run"]


def run(items: int = 10_000, repeats: int = 4) -> dict[str, Any]:
    """Seconds per ``submit_batch`` call, each checked to have stored every job."""

    machine = machine_info()
    with pg_schema() as (url, where), tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(database_url=url, bus_url="memory://", data_dir=Path(tmp))
        with job_service(settings) as service:
            runs = []
            inputs = [{"payload": i} for i in range(items)]
            for _ in range(repeats):
                started = time.perf_counter()
                batch = service.submit_batch("diagnostic.echo", inputs)
                runs.append(round(time.perf_counter() - started, 3))
                if service.get_batch(batch.id).counts.queued != items:
                    raise RuntimeError(f"batch {batch.id} did not store {items} jobs")
    return {"bench": "submit_inprocess", "items": items, "runs_s": runs, "store": where,
            "bus": "memory", "machine": machine}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(run(*args), ensure_ascii=False))
