"""The Worker: runs stages on threads (poll, handle, retry, dead-letter, commit) until stopped.

Each stage gets one consumer (one member of ``stage.consumer_group``) polled from one thread,
``stage.concurrency`` handler threads and a retry scheduler. Records are committed only over
a contiguous run of finished ones per partition, so a crash at any point redelivers every
record whose effect was not done; handlers are idempotent by contract.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from types import FrameType, TracebackType
from typing import Any

from nunchi.bus.base import Bus
from nunchi.errors import Conflict, InvalidInput
from nunchi.runtime._runner import StageRunner, StageStats
from nunchi.runtime.stage import Stage

__all__ = ["StageStats", "Worker"]

_log = logging.getLogger("nunchi.runtime")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_LAG_MIN_INTERVAL = 0.5
"""Seconds between two lag refreshes triggered by commits (bounds the bus queries)."""


def _check_stages(stages: Sequence[Stage]) -> list[Stage]:
    if isinstance(stages, Stage):
        raise InvalidInput("Worker takes a list of stages; wrap a single stage in a list")
    stages = list(stages)
    if not stages:
        raise InvalidInput("a Worker needs at least one stage")
    names: set[str] = set()
    for stage in stages:
        if not isinstance(stage, Stage):
            raise InvalidInput(f"expected a nunchi.runtime.Stage, got {type(stage).__name__}")
        if not stage.name:
            raise InvalidInput(f"stage on topic {stage.topic!r} needs a non-empty name")
        if stage.name in names:
            raise InvalidInput(f"two stages are named {stage.name!r}; stage names must be unique")
        names.add(stage.name)
        if stage.concurrency < 1:
            raise InvalidInput(
                f"stage {stage.name!r}: concurrency must be at least 1, got {stage.concurrency}"
            )
        if stage.max_in_flight < 1:
            raise InvalidInput(
                f"stage {stage.name!r}: max_in_flight must be at least 1, got {stage.max_in_flight}"
            )
        if stage.partitions < 0:
            raise InvalidInput(
                f"stage {stage.name!r}: partitions must be 0 (the default) or more,"
                f" got {stage.partitions}"
            )
        if stage.retry.max_attempts < 1:
            raise InvalidInput(
                f"stage {stage.name!r}: retry.max_attempts must be at least 1,"
                f" got {stage.retry.max_attempts}"
            )
    return stages


class Worker:
    """Runs ``stages`` against ``bus`` on background threads.

    ``start()`` returns at once; ``stop(timeout)`` stops gracefully; ``run_until_stopped()``
    blocks until SIGTERM/SIGINT (on the main thread) or :meth:`request_stop`. Usable as a
    context manager (start on enter, stop on exit)."""

    def __init__(
        self,
        bus: Bus,
        stages: Sequence[Stage],
        *,
        default_partitions: int = 4,
        poll_timeout: float = 0.5,
        name: str | None = None,
        lag_interval: float = 5.0,
    ) -> None:
        checked = _check_stages(stages)
        if isinstance(default_partitions, bool) or default_partitions < 1:
            raise InvalidInput(f"default_partitions must be at least 1, got {default_partitions}")
        if not poll_timeout > 0:
            raise InvalidInput(f"poll_timeout must be a positive number, got {poll_timeout}")
        if not lag_interval > 0:
            raise InvalidInput(f"lag_interval must be a positive number, got {lag_interval}")
        self.name = name or f"worker-{os.getpid()}-{id(self) & 0xFFFF:04x}"
        """This worker's name (thread names and logs)."""
        self._bus = bus
        self._lag_interval = lag_interval
        self._lag_wake = threading.Event()
        self._runners = [
            StageRunner(
                bus,
                stage,
                partitions=stage.partitions or default_partitions,
                poll_timeout=poll_timeout,
                worker_name=self.name,
                lag_wake=self._lag_wake,
            )
            for stage in checked
        ]
        self._lock = threading.Lock()
        self._state = "new"
        self._stop_requested = threading.Event()
        self._lag_stop = threading.Event()
        self._lag_thread: threading.Thread | None = None

    @property
    def stages(self) -> list[Stage]:
        """The stages this worker runs."""
        return [r.stage for r in self._runners]

    @property
    def running(self) -> bool:
        """Whether the worker was started and not yet stopped."""
        return self._state == "running"

    def start(self) -> None:
        """Create the topics, join the consumer groups and start the threads; returns at once.

        Raises what the bus raises if a topic cannot be created or a group joined (then no
        stage runs), and :class:`Conflict` if the worker was already started."""
        with self._lock:
            if self._state != "new":
                raise Conflict(
                    f"worker {self.name} was already started; create a new Worker to run again"
                )
            opened: list[StageRunner] = []
            try:
                for runner in self._runners:
                    runner.open()
                    opened.append(runner)
            except BaseException:
                for runner in opened:
                    try:
                        runner.close_unstarted()
                    except Exception:
                        _log.warning("stage %s: could not leave its group", runner.stage.name)
                self._state = "stopped"
                raise
            for runner in self._runners:
                runner.start()
            self._state = "running"
            self._lag_thread = threading.Thread(
                target=self._lag_loop, name=f"nunchi-{self.name}-lag", daemon=True
            )
            self._lag_thread.start()
        _log.info(
            "worker %s started: %s", self.name, ", ".join(r.stage.name for r in self._runners)
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully: stop polling, let handlers finish queued work for up to
        ``timeout`` seconds (records waiting for a retry are abandoned), commit what finished,
        leave the groups and join the threads. Unfinished records stay uncommitted and are
        delivered again. Returns within about ``timeout`` plus one poll timeout. Idempotent."""
        if timeout < 0:
            raise InvalidInput(f"timeout must be >= 0 seconds, got {timeout}")
        with self._lock:
            if self._state != "running":
                self._state = "stopped"
                return
            self._state = "stopping"
        self._stop_requested.set()
        deadline = time.monotonic() + timeout
        for runner in self._runners:
            runner.begin_stop(deadline)
        self._lag_stop.set()
        self._lag_wake.set()
        clean = True
        for runner in self._runners:
            clean = runner.join(deadline) and clean
        if self._lag_thread is not None:
            self._lag_thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        if time.monotonic() < deadline:  # the final commits lowered the lag: report it
            self._refresh_stale_lag()
        with self._lock:
            self._state = "stopped"
        _log.info("worker %s stopped%s", self.name, "" if clean else " (some work abandoned)")

    def request_stop(self) -> None:
        """Ask :meth:`run_until_stopped` to stop the worker and return. Thread-safe."""
        self._stop_requested.set()

    def run_until_stopped(self, stop_timeout: float = 30.0) -> None:
        """Start (if needed) and block until SIGTERM/SIGINT or :meth:`request_stop`, then stop
        gracefully within ``stop_timeout`` seconds. Signal handlers are installed only when
        called on the main thread and are restored on return; a second signal during the
        graceful stop gets the previous handler (Ctrl-C twice interrupts)."""
        if self._state == "new":
            self.start()
        previous: dict[int, Any] = {}

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            previous.clear()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            _log.info("worker %s: %s received, stopping", self.name, signal.strsignal(signum))
            self._stop_requested.set()
            restore()

        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                previous[signum] = signal.signal(signum, on_signal)
        try:
            while not self._stop_requested.wait(1.0):
                pass
        finally:
            if threading.current_thread() is threading.main_thread():
                restore()
        self.stop(stop_timeout)

    def stats(self) -> dict[str, StageStats]:
        """Counters per stage name: processed, failed, retried, dead-lettered, in flight,
        lag (refreshed every ``lag_interval`` seconds, and soon after a commit) and the last
        error."""
        return {r.stage.name: r.stats() for r in self._runners}

    def refresh_lag(self) -> None:
        """Refresh every stage's consumer lag now (the worker also does so periodically)."""
        for runner in self._runners:
            runner.refresh_lag()

    def _refresh_stale_lag(self) -> None:
        for runner in self._runners:
            if runner.lag_stale:
                runner.refresh_lag()

    def _lag_loop(self) -> None:
        """Refresh every stage's lag each ``lag_interval``, and a stage's as soon as one of
        its commits moved the offsets (at most every ``_LAG_MIN_INTERVAL``), so that the lag
        reads 0 right after the last record is committed, not up to an interval later."""
        gap = min(self._lag_interval, _LAG_MIN_INTERVAL)
        next_full = time.monotonic()
        while True:
            self._lag_wake.clear()
            if time.monotonic() >= next_full:
                next_full = time.monotonic() + self._lag_interval
                self.refresh_lag()
            else:
                self._refresh_stale_lag()
            if self._lag_stop.wait(gap):
                return
            self._lag_wake.wait(max(0.0, next_full - time.monotonic()))
            if self._lag_stop.is_set():
                return

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
