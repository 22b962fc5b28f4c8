"""Wake-ups of the SQLite log across processes: a publish in one process wakes the pollers of
its topics in the others at once, instead of at their next re-check of the file (a backoff of
up to 50 ms a hop, twice per message when ``nunchi up`` scores chat in a child process).

Every process that opens a log file binds a Unix datagram socket in a folder of its own for
that file (``$TMPDIR/nunchi-wake-<uid>-<hash of the path>/<pid>-<random>.sock``, mode 0700) and
sends each publish's topic names to the sockets of the others (the folder is listed at most once
a second). It is only a hint: a lost datagram, a full buffer or a platform without Unix sockets
leaves the pollers to their re-checks, which still find every record. A socket nobody listens
on any more (its process was killed) refuses the datagram and is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["Relay", "open_relay"]

log = logging.getLogger("nunchi.bus")

_LIST_EVERY = 1.0
_ALL = b"*"
_MAX_PAYLOAD = 8192

Deliver = Callable[[list[str] | None], None]
"""Called with the topics another process published to (None: wake every poller)."""


def _folder(path: str) -> Path:
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"nunchi-wake-{uid}-{digest}"


class Relay:
    """This process's end of the wake-ups of one log file; see the module docstring."""

    def __init__(self, path: str, deliver: Deliver) -> None:
        self.folder = _folder(path)
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.pid = os.getpid()
        self.address = str(self.folder / f"{self.pid}-{secrets.token_hex(4)}.sock")
        self._in = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._in.bind(self.address)
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        self._deliver = deliver
        self._peers: list[str] = []
        self._listed = 0.0
        self._lock = threading.Lock()
        self._closed = False
        self.received = 0
        """Datagrams received from other processes."""
        threading.Thread(target=self._receive, name="nunchi-bus-wake", daemon=True).start()

    def _receive(self) -> None:
        while not self._closed:
            try:
                data = self._in.recv(_MAX_PAYLOAD)
            except OSError:
                return  # closed
            self.received += 1
            topics = None if data == _ALL else data.decode("utf-8", "replace").split("\n")
            try:
                self._deliver(topics)
            except Exception:  # pragma: no cover - the notifier does not raise
                log.exception("delivering a wake-up failed")

    def refresh(self) -> None:
        """List the other processes' sockets now."""
        with contextlib.suppress(OSError):
            found = [str(p) for p in self.folder.glob("*.sock") if str(p) != self.address]
            with self._lock:
                self._peers = found
                self._listed = time.monotonic()

    def send(self, topics: Iterable[str] | None) -> None:
        """Wake the other processes' pollers of ``topics`` (every poller when None)."""
        if self._closed or os.getpid() != self.pid:  # closed, or a forked child's copy
            return
        if time.monotonic() - self._listed >= _LIST_EVERY:
            self.refresh()
        payload = _ALL if topics is None else "\n".join(topics).encode()
        if len(payload) > _MAX_PAYLOAD:
            payload = _ALL
        with self._lock:
            peers = list(self._peers)
        for peer in peers:
            try:
                self._out.sendto(payload, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                with self._lock:  # its process is gone
                    if peer in self._peers:
                        self._peers.remove(peer)
                with contextlib.suppress(OSError):
                    os.unlink(peer)
            except OSError:
                pass  # a busy peer's buffer is full: it re-checks the file anyway

    def close(self) -> None:
        """Stop receiving and remove this process's socket."""
        if self._closed:
            return
        self._closed = True
        if os.getpid() == self.pid:
            with contextlib.suppress(OSError):
                os.unlink(self.address)
        with contextlib.suppress(OSError):
            self._in.shutdown(socket.SHUT_RDWR)
        self._in.close()
        self._out.close()


def open_relay(path: str, deliver: Deliver) -> Relay | None:
    """A :class:`Relay` for the log at ``path``, or None where Unix datagram sockets are not
    available or the folder cannot be made (the pollers then re-check the file)."""
    if not hasattr(socket, "AF_UNIX"):
        return None
    try:
        return Relay(path, deliver)
    except OSError as e:
        log.info("no wake-ups across processes for %s: %s", path, e)
        return None
