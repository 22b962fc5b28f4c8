"""Stages in worker processes of their own, under ``nunchi up``.

Python threads share one core, so a CPU-bound stage (``Stage.own_process``: chat scoring)
slows every other stage and the web server of the process it runs in. On a machine with two
or more cores ``nunchi up`` runs such a stage as a child ``nunchi worker --stage NAME``: the
same code and consumer group a scale-out worker uses, on the same embedded log and store (the
SQLite log is shared by processes), so nothing else changes. :class:`StageProcesses` starts the
children, restarts one that ends unexpectedly (with a growing delay), and stops them on
shutdown (SIGTERM, then a kill after the timeout). A child ends by itself when ``nunchi up``
is gone (``--parent``), so a ``kill -9`` of it leaves nothing behind; the stage's records are
redelivered to whoever holds its partitions next.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["StageProcesses", "exit_with_parent", "use_processes"]

log = logging.getLogger("nunchi.runtime")

_FIRST_DELAY = 1.0
_MAX_DELAY = 30.0
_STEADY = 60.0  # a child that ran this long starts its next restart from the first delay


def use_processes(setting: str, cpus: int | None = None) -> bool:
    """Whether own-process stages get processes: ``auto`` on two or more cores, ``on``
    always, ``off`` never."""
    if setting == "on":
        return True
    if setting == "off":
        return False
    return (cpus if cpus is not None else os.cpu_count() or 1) >= 2


def exit_with_parent(parent: int, stop: threading.Event, interval: float = 0.5) -> None:
    """Set ``stop`` once process ``parent`` is no longer this process's parent (it ended and
    this one was handed to another), checking every ``interval`` seconds on a daemon thread."""

    def watch() -> None:
        while not stop.wait(interval):
            if os.getppid() != parent:
                log.warning("the parent process %d is gone: stopping", parent)
                stop.set()

    threading.Thread(target=watch, name="nunchi-parent-watch", daemon=True).start()


@dataclass
class _Child:
    stage: str
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = _FIRST_DELAY
    restart_at: float = 0.0


@dataclass
class StageProcesses:
    """Child worker processes, one per stage in ``stages``; see the module docstring.

    ``command`` is how to run ``nunchi`` (default: this interpreter with ``-m nunchi.cli``).
    """

    stages: Sequence[str]
    command: Sequence[str] = (sys.executable, "-m", "nunchi.cli")
    _children: list[_Child] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        """Start every child and the thread that restarts them."""
        with self._lock:
            self._children = [_Child(stage) for stage in self.stages]
            for child in self._children:
                self._spawn(child)
        self._thread = threading.Thread(target=self._supervise, name="nunchi-stage-processes",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def states(self) -> list[tuple[str, int | None]]:
        """Each stage with its child's process id (None while it is being restarted)."""
        with self._lock:
            return [(c.stage, c.popen.pid if c.popen is not None and c.popen.poll() is None
                     else None) for c in self._children]  # fmt: skip

    def pids(self) -> dict[str, int]:
        """The running children's process ids, by stage."""
        return {stage: pid for stage, pid in self.states() if pid is not None}

    def _spawn(self, child: _Child) -> None:
        args = [*self.command, "worker", "--stage", child.stage, "--name", f"up-{child.stage}",
                "--parent", str(os.getpid())]  # fmt: skip
        # A process group of its own: Ctrl-C in a terminal reaches ``nunchi up`` only, which
        # then stops its children (they would otherwise stop first and be restarted).
        child.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, process_group=0)
        child.started = time.monotonic()
        log.info("stage %s runs in process %d", child.stage, child.popen.pid)

    def _supervise(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                for child in self._children:
                    self._check(child)

    def _check(self, child: _Child) -> None:
        now = time.monotonic()
        if child.popen is not None:
            code = child.popen.poll()
            if code is None:
                return
            ran = now - child.started
            child.delay = _FIRST_DELAY if ran >= _STEADY else min(child.delay * 2, _MAX_DELAY)
            child.restart_at = now + child.delay
            child.popen = None
            log.error("the process of stage %s ended (exit code %s): restarting in %.0f s",
                      child.stage, code, child.delay)  # fmt: skip
        if now >= child.restart_at and not self._stop.is_set():
            try:
                self._spawn(child)
            except OSError as e:
                child.restart_at = now + child.delay
                log.error("starting the process of stage %s failed: %s", child.stage, e)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask every child to finish (SIGTERM: in-flight work ends or is redelivered), wait up
        to ``timeout`` seconds, then kill what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        with self._lock:
            running = [c.popen for c in self._children if c.popen is not None]
        for popen in running:
            if popen.poll() is None:
                popen.terminate()
        deadline = time.monotonic() + timeout
        for popen in running:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("stage process %d did not stop in %.0f s: killed", popen.pid, timeout)
                popen.kill()
                popen.wait(5.0)
