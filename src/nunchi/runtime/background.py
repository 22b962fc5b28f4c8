"""Background loops: work that runs beside the stages in a process (publishing the outbox,
scheduling webhook retries, an app's watchers), started, stopped and chosen by name the same
way as stages (``nunchi worker --stage NAME``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Background", "every", "threaded"]

log = logging.getLogger("nunchi.runtime")


@dataclass(frozen=True)
class Background:
    """A named loop with ``start()`` and ``stop(timeout)``."""

    name: str
    start: Callable[[], None]
    stop: Callable[[float], None]


def threaded(name: str, run: Callable[[threading.Event], None]) -> Background:
    """A Background running ``run(stop_event)`` on a daemon thread until it is stopped; an
    exception ends the loop and is logged."""
    stop_event = threading.Event()
    threads: list[threading.Thread] = []

    def guarded() -> None:
        try:
            run(stop_event)
        except Exception:
            log.exception("background loop %s stopped with an error", name)

    def start() -> None:
        if any(t.is_alive() for t in threads):
            return
        stop_event.clear()
        thread = threading.Thread(target=guarded, name=f"nunchi-{name}", daemon=True)
        threads.append(thread)
        thread.start()

    def stop(timeout: float) -> None:
        stop_event.set()
        for thread in threads:
            thread.join(timeout)
        threads.clear()

    return Background(name, start, stop)


def every(name: str, interval: float, step: Callable[[], object]) -> Background:
    """A Background calling ``step()`` every ``interval`` seconds (first at once); a failing
    step is logged and the loop goes on (a database or bus outage passes)."""
    if interval <= 0:
        raise ValueError("interval must be positive")

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                step()
            except Exception as e:
                log.warning("background loop %s: %s: %s", name, type(e).__name__, e)
            stop.wait(interval)

    return threaded(name, run)
