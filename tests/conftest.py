"""Shared test setup. Service fixtures live in tests/fixtures/, one module per service."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.postgres",
    "tests.fixtures.kafka",
    "tests.fixtures.processes",
    "tests.fixtures.s3",
]
