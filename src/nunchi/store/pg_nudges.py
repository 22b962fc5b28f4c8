"""Nudges between processes over PostgreSQL ``LISTEN`` / ``NOTIFY``.

In scale-out the stages run in worker processes and the live pages in the API tier: a nudge
made in a worker (chat stored, a job finished) would reach nobody. With a PostgreSQL store
every process relays the channels it nudges as notifications on ``nunchi_nudges`` and listens
there for the others' (``<origin>|<channel>`` payloads; a process skips its own). Nudges keep
their meaning: no data, may be lost (readers still re-read the store on their interval).

Sending is coalesced: the channels nudged in the last 20 ms go out in one statement from a
background thread, so a stage nudging a thousand times a second costs about fifty round trips
a second, and never blocks the stage.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable

import psycopg
from sqlalchemy import Engine

from nunchi.runtime.nudges import Nudges

__all__ = ["CHANNEL", "PgNudgeRelay"]

log = logging.getLogger(__name__)

CHANNEL = "nunchi_nudges"
_SEND_EVERY = 0.02
_PAYLOAD_MAX = 7000
"""PostgreSQL refuses payloads of 8,000 bytes or more."""


def _conninfo(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    rendered: str = url.render_as_string(hide_password=False)
    return rendered


class PgNudgeRelay:
    """Relays ``nudges`` to and from the other processes on the same PostgreSQL database."""

    def __init__(self, engine: Engine, nudges: Nudges) -> None:
        self.engine = engine
        self.nudges = nudges
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listening = threading.Event()

    def start(self) -> None:
        """Start relaying (the listener is subscribed when this returns, or after 5 s)."""
        self.nudges.relay = self._queue
        for name, target in (("send", self._send_loop), ("listen", self._listen_loop)):
            thread = threading.Thread(target=target, name=f"nunchi-nudges-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._listening.wait(5.0)

    def stop(self) -> None:
        """Stop both threads."""
        self.nudges.relay = None
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(5.0)

    def _queue(self, names: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(names)
        self._wake.set()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._stop.wait(_SEND_EVERY)  # let the nudges of the next few ms join this send
            with self._lock:
                names, self._pending = self._pending, set()
                self._wake.clear()
            if names:
                try:
                    self._send(sorted(names))
                except Exception:  # the database may be briefly away: nudges may be lost
                    log.warning("relaying %d nudges failed", len(names), exc_info=True)

    def _send(self, names: list[str]) -> None:
        payloads = [f"{self.origin}|{n}" for n in names if len(n) < _PAYLOAD_MAX]
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(
                "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p", (CHANNEL, payloads)
            )
            raw.commit()
        finally:
            raw.close()

    def _listen_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(_conninfo(self.engine), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            origin, _, channel = note.payload.partition("|")
                            if origin != self.origin and channel:
                                self.nudges.nudge(channel, relay=False)
            except psycopg.Error:
                if self._stop.is_set():
                    return
                log.warning("listening for nudges failed; retrying in 1 s", exc_info=True)
                self._stop.wait(1.0)
