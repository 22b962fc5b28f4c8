"""In-process wake-ups by channel name: a stage that changed something (a job finished, chat
messages were stored) nudges ``batch:<id>``; a live page's event stream subscribed to that
channel wakes at once and reads what changed from the store.

A nudge carries no data and may be lost or repeated: readers always re-read the store, and
wait with a timeout so they catch up on changes made in other processes (scale-out) that no
nudge reaches. Nudging a channel nobody listens to costs a dictionary look-up. Thread-safe:
stages nudge from worker threads, subscribers are asyncio tasks of the web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

__all__ = ["Nudges", "Subscription"]


class Subscription:
    """A listener on some channels: :meth:`wait` returns once any was nudged since the last
    wait (nudges in between are kept, never missed)."""

    def __init__(self, owner: Nudges, channels: tuple[str, ...]) -> None:
        self._owner = owner
        self.channels = channels
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def _set(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """Wait until a nudge (True) or ``timeout`` seconds (False)."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True

    def close(self) -> None:
        """Stop listening."""
        self._owner._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Nudges:
    """Wake-ups by channel, from any thread to asyncio subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}
        self.relay: Callable[[list[str]], None] | None = None
        """Where nudges go for other processes too (set by
        :class:`nunchi.store.pg_nudges.PgNudgeRelay` on a PostgreSQL store)."""

    def nudge(self, channels: str | Iterable[str], *, relay: bool = True) -> None:
        """Wake every subscriber of ``channels`` (a name or several), here and, with a relay,
        in the other processes (``relay=False``: a nudge that came from one of them)."""
        names = [channels] if isinstance(channels, str) else list(channels)
        forward = self.relay
        if relay and forward is not None:
            forward(names)
        with self._lock:
            targets = {s for name in names for s in self._subscribers.get(name, ())}
        for subscription in targets:
            subscription._set()

    def subscribe(self, *channels: str) -> Subscription:
        """Listen to ``channels`` (from a running event loop); close it when done."""
        subscription = Subscription(self, channels)
        with self._lock:
            for name in channels:
                self._subscribers.setdefault(name, set()).add(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            for name in subscription.channels:
                listening = self._subscribers.get(name)
                if listening is not None:
                    listening.discard(subscription)
                    if not listening:
                        del self._subscribers[name]

    def listening(self) -> int:
        """How many subscriptions are open (a client that left must leave none)."""
        with self._lock:
            return len({s for subs in self._subscribers.values() for s in subs})
