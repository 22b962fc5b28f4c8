"""Running watches: a background loop in every process with the chat stages claims the watches
operators started (one process per watch, by a lease in the store), runs each one's source on
its own thread and publishes what it hears to ``chat.raw``; a watch whose process died is
taken over when its lease runs out.

The sink buffers messages for a few milliseconds so a busy chat is published in batches; it
makes every text storable first (lone surrogates, NUL: :func:`nunchi.strictjson.scrub`), counts
parse failures and reconnects, and writes the source's state (connecting, live,
reconnecting, ended, failing + error) to the watch row, which the page and the API show.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from nunchi.apps.chat import metrics
from nunchi.apps.chat.models import ChatWatch
from nunchi.apps.chat.records import deletion_message, raw_message
from nunchi.apps.chat.sources.base import (
    ChatDeletion,
    ChatMessage,
    ChatSource,
    SourceState,
)
from nunchi.apps.chat.topics import CHAT_RAW
from nunchi.bus.base import Bus
from nunchi.store.types import utcnow
from nunchi.strictjson import scrub

__all__ = ["LEASE_SECONDS", "WATCHER", "Sink", "WatchRunner"]

log = logging.getLogger(__name__)

WATCHER = "chat.watcher"
"""Name of the loop (``nunchi worker --stage chat.watcher``)."""
LEASE_SECONDS = 15.0
_TICK = 1.0
_FLUSH_SECONDS = 0.005
_FLUSH_SIZE = 500
_FLUSH_IDLE_S = 10.0


def _clean(message: ChatMessage) -> ChatMessage:
    text, name = scrub(message.text), scrub(message.author_name)
    if text == message.text and name == message.author_name:
        return message
    return replace(message, text=text, author_name=name)


@dataclass
class Sink:
    """Where one watch's source reports (a :class:`~nunchi.apps.chat.sources.SourceSink`)."""

    watch_id: str
    bus: Bus
    on_state: Callable[[str, SourceState], None]
    failures: int = 0
    reconnects: int = 0
    received: int = 0
    _buffer: list[tuple[ChatMessage, float]] = field(default_factory=list)
    _oldest: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _publishing: threading.RLock = field(default_factory=threading.RLock)
    _wake: threading.Condition = field(init=False)
    _flusher: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._wake = threading.Condition(self._lock)

    def messages(self, messages: list[ChatMessage]) -> None:
        """Buffer messages; publish when the buffer is big or old enough (the sink's flusher
        thread publishes what a quiet chat left in the buffer)."""
        with self._lock:
            first = not self._buffer
            if first:
                self._oldest = time.monotonic()
            now = time.time()
            self._buffer.extend((_clean(m), now) for m in messages)
            old = time.monotonic() - self._oldest >= _FLUSH_SECONDS
            due = old or len(self._buffer) >= _FLUSH_SIZE
            if first and not due:
                if self._flusher is None:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name=f"chat-sink-{self.watch_id}", daemon=True
                    )
                    self._flusher.start()
                self._wake.notify()
        if due:
            self.flush()

    def _flush_loop(self) -> None:
        """Publish a buffer once it is ``_FLUSH_SECONDS`` old; end after ``_FLUSH_IDLE_S``
        without chat (the next message starts another). One thread a sink, so one event-log
        connection, however many quiet moments the chat has."""
        while True:
            with self._lock:
                while not self._buffer:
                    if not self._wake.wait(_FLUSH_IDLE_S) and not self._buffer:
                        self._flusher = None
                        return
                due = self._oldest + _FLUSH_SECONDS
                while self._buffer and time.monotonic() < due:
                    self._wake.wait(max(0.0, due - time.monotonic()))
            try:
                self.flush()
            except Exception:  # the bus may be briefly away: the next message flushes again
                log.exception("chat %s: publishing buffered chat failed", self.watch_id)

    def flush(self) -> None:
        """Publish what is buffered (in order: one publisher at a time)."""
        with self._publishing:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return
            self.bus.publish_batch(
                [raw_message(m, watch=self.watch_id, received=at) for m, at in batch]
            )
            self.received += len(batch)
        metrics.count_messages("received", (m.platform for m, _ in batch))

    def deletions(self, deletions: list[ChatDeletion]) -> None:
        """Publish the platform's deletions (after what is buffered: order kept)."""
        with self._publishing:
            self.flush()
            self.bus.publish_batch([deletion_message(d, watch=self.watch_id) for d in deletions])

    def state(self, state: SourceState) -> None:
        """Record the source's new state."""
        self.flush()
        if state.kind == "reconnecting":
            self.reconnects += 1
        self.on_state(self.watch_id, state)

    def parse_failure(self, platform: str, raw_excerpt: str, error: str) -> None:
        """Count and log a frame the source could not read (the watch goes on)."""
        self.failures += 1
        metrics.PARSE_FAILURES.labels(platform).inc()
        log.warning(
            "chat %s: cannot parse a %s frame (%s): %s",
            self.watch_id,
            platform,
            error,
            raw_excerpt[:200],
        )


@dataclass
class _Running:
    source: ChatSource
    sink: Sink
    stop: threading.Event
    thread: threading.Thread
    counted: tuple[int, int, int] = (0, 0, 0)


SourceFactory = Callable[[ChatWatch], ChatSource]


class WatchRunner:
    """Claims and runs watches in this process (see the module docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: Bus,
        make_source: SourceFactory,
        *,
        partitions: int = 4,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.make_source = make_source
        self.partitions = partitions
        self.lease = timedelta(seconds=lease_seconds)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._running: dict[str, _Running] = {}

    def run(self, stop: threading.Event) -> None:
        """Claim, start, renew and stop watches every second until ``stop``."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:  # the store may be briefly away: keep the loop alive
                    log.exception("chat watcher pass failed; retrying")
                stop.wait(_TICK)
        finally:
            self.stop_all()

    def tick(self) -> None:
        """One pass: claim due watches, renew ours, stop the ones asked to stop."""
        self.bus.ensure_topic(CHAT_RAW, self.partitions)
        now = utcnow()
        with self.sessions.begin() as s:
            s.execute(
                update(ChatWatch)
                .where(
                    ChatWatch.desired == "running",
                    or_(
                        ChatWatch.owner.is_(None),
                        ChatWatch.lease_until < now,
                        ChatWatch.owner == self.owner,
                    ),
                )
                .values(owner=self.owner, lease_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
            mine = {
                w.id: w
                for w in s.scalars(
                    select(ChatWatch).where(
                        ChatWatch.owner == self.owner, ChatWatch.desired == "running"
                    )
                )
            }
        for watch_id in list(self._running):
            if watch_id not in mine:
                self._stop_one(watch_id)
        for watch_id, watch in mine.items():
            running = self._running.get(watch_id)
            if running is None:
                self._start(watch)
            elif not running.thread.is_alive():
                self._finished(watch_id)
        self._save_counts()

    def _start(self, watch: ChatWatch) -> None:
        sink = Sink(watch.id, self.bus, self._record_state)
        try:
            source = self.make_source(watch)
        except Exception as e:
            log.warning("chat watch %s cannot start: %s", watch.id, e)
            self._record_state(watch.id, SourceState("failing", utcnow(), error=str(e)))
            self._finish_row(watch.id, "failing")
            return
        stop = threading.Event()

        def run() -> None:
            try:
                source.run(sink, stop)
            finally:
                sink.flush()

        thread = threading.Thread(target=run, name=f"nunchi-chat-{watch.id[-6:]}", daemon=True)
        self._running[watch.id] = _Running(source, sink, stop, thread)
        thread.start()
        log.info("chat watch %s started (%s %s)", watch.id, watch.platform, watch.url[:80])

    def _record_state(self, watch_id: str, state: SourceState) -> None:
        if state.kind == "reconnecting":
            metrics.RECONNECTS.labels(self._platform(watch_id)).inc()
        values: dict[str, object] = {
            "state": state.kind,
            "error": state.error,
            "updated_at": utcnow(),
        }
        if state.broadcast:
            values["broadcast"] = state.broadcast
        with self.sessions.begin() as s:
            s.execute(update(ChatWatch).where(ChatWatch.id == watch_id).values(**values))

    def _platform(self, watch_id: str) -> str:
        running = self._running.get(watch_id)
        return running.source.platform if running is not None else "unknown"

    def _save_counts(self) -> None:
        for watch_id, running in self._running.items():
            sink = running.sink
            now = (sink.received, sink.failures, sink.reconnects)
            received, failures, reconnects = (
                a - b for a, b in zip(now, running.counted, strict=True)
            )
            if not (received or failures or reconnects):
                continue
            with self.sessions.begin() as s:
                s.execute(
                    update(ChatWatch)
                    .where(ChatWatch.id == watch_id)
                    .values(
                        messages=ChatWatch.messages + received,
                        parse_failures=ChatWatch.parse_failures + failures,
                        reconnects=ChatWatch.reconnects + reconnects,
                    )
                )
            running.counted = now

    def _finished(self, watch_id: str) -> None:
        """The source returned: the broadcast ended (or failed for good)."""
        self._save_counts()
        self._running.pop(watch_id, None)
        with self.sessions() as s:
            state = s.scalar(select(ChatWatch.state).where(ChatWatch.id == watch_id))
        self._finish_row(watch_id, "failing" if state == "failing" else "ended")

    def _finish_row(self, watch_id: str, state: str) -> None:
        with self.sessions.begin() as s:
            s.execute(
                update(ChatWatch)
                .where(ChatWatch.id == watch_id)
                .values(
                    desired="stopped",
                    state=state,
                    owner=None,
                    lease_until=None,
                    ended_at=utcnow(),
                    updated_at=utcnow(),
                )
            )

    def _stop_one(self, watch_id: str, timeout: float = 10.0) -> None:
        running = self._running.pop(watch_id, None)
        if running is None:
            return
        running.stop.set()
        running.thread.join(timeout)
        running.sink.flush()

    def stop_all(self) -> None:
        """Stop every source of this process and give their watches up (another process,
        or this one restarted, takes them over)."""
        ids = list(self._running)
        for watch_id in ids:
            self._stop_one(watch_id)
        if ids:
            with self.sessions.begin() as s:
                s.execute(
                    update(ChatWatch)
                    .where(ChatWatch.id.in_(ids), ChatWatch.owner == self.owner)
                    .values(owner=None, lease_until=None)
                )
