"""The SQLite event log's file: connections, schema, transactions, header encoding and the
in-process wake-up signal.

Durability: the file is in WAL mode. With ``synchronous=NORMAL`` (the default) a committed
transaction is in the WAL file, i.e. in the operating system's hands, before ``COMMIT``
returns, so it survives the process being killed at any point (``kill -9``); only an OS crash
or power loss can lose the last transactions (the WAL is fsynced at checkpoints). NORMAL
spares an fsync per commit, which FULL pays (not measured here). Pass
``synchronous="FULL"`` to fsync the WAL on every commit and survive power loss as well.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from nunchi.bus._sqlite_wake import Relay, open_relay
from nunchi.errors import BusError, BusUnavailable, InvalidInput
from nunchi.paths import private_file
from nunchi.sqlite_wal import PASSIVE, WalCheckpoints

__all__ = [
    "Database",
    "Notifier",
    "decode_headers",
    "encode_headers",
    "notifier_for",
    "now",
    "release_notifier",
    "translate_errors",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS heads (
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, "partition")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers BLOB,
    ts REAL NOT NULL,
    PRIMARY KEY (topic, "partition", "offset")
);
CREATE TABLE IF NOT EXISTS offsets (
    "group" TEXT NOT NULL,
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    committed INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY ("group", topic, "partition")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
    "group" TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    "group" TEXT NOT NULL,
    member_id TEXT NOT NULL,
    topics TEXT NOT NULL,
    joined_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY ("group", member_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    "group" TEXT NOT NULL,
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    owner TEXT,
    epoch INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY ("group", topic, "partition")
) WITHOUT ROWID;
"""


class Notifier:
    """Wakes this process's pollers of one log file when something was published to their
    topics or a group changed, and through its ``relay`` (:mod:`nunchi.bus._sqlite_wake`) the
    pollers of the other processes on the same file; pollers also re-check the file.

    A publish bumps its topics' counters only, so a poller of other topics sleeps on (with
    many idle stages in one process, waking them all on every publish cost more than the
    work); a group change bumps every poller's."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._seq = 0
        self._topics: dict[str, int] = {}
        self.relay: Relay | None = None

    def version(self, topics: Iterable[str] = ()) -> int:
        """A number that grows with every notification for any of ``topics`` (and every
        notification for all)."""
        with self._cond:
            return self._seq + sum(self._topics.get(t, 0) for t in topics)

    def notify(self, topics: Iterable[str] | None = None) -> None:
        """Wake the pollers of ``topics`` (every poller when None), here and in the other
        processes on the same file."""
        names = None if topics is None else list(topics)
        self.notify_here(names)
        if self.relay is not None:
            self.relay.send(names)

    def notify_here(self, topics: Iterable[str] | None = None) -> None:
        """Wake this process's pollers of ``topics`` (every poller when None)."""
        with self._cond:
            if topics is None:
                self._seq += 1
            else:
                for topic in topics:
                    self._topics[topic] = self._topics.get(topic, 0) + 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float, topics: Iterable[str] = ()) -> None:
        """Wait up to ``timeout`` seconds unless :meth:`version` of ``topics`` moved past
        ``seen`` already (a notification for other topics does not end the wait)."""
        names = tuple(topics)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._seq + sum(self._topics.get(t, 0) for t in names) == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)


_notifiers: dict[str, Notifier] = {}
_notifiers_lock = threading.Lock()


_users: dict[str, int] = {}


def notifier_for(path: str) -> Notifier:
    """The process-wide :class:`Notifier` of the log file at ``path``, relayed to the other
    processes on the file; each call is matched by a :func:`release_notifier`."""
    key = os.path.realpath(path)
    with _notifiers_lock:
        found = _notifiers.get(key)
        if found is None or (found.relay is not None and found.relay.pid != os.getpid()):
            found = _notifiers[key] = Notifier()
            found.relay = open_relay(key, found.notify_here)
            if found.relay is not None:
                atexit.register(found.relay.close)
            _users[key] = 0
        _users[key] += 1
        return found


def release_notifier(path: str) -> None:
    """One user of ``path``'s notifier is done; the last one closes its relay (a process
    that opens many log files one after the other keeps no socket per file)."""
    key = os.path.realpath(path)
    with _notifiers_lock:
        if key not in _users:
            return
        _users[key] -= 1
        if _users[key] > 0:
            return
        del _users[key]
        found = _notifiers.pop(key)
    if found.relay is not None:
        found.relay.close()
        atexit.unregister(found.relay.close)


_HEADER = struct.Struct(">HI")


def encode_headers(headers: Mapping[str, bytes]) -> bytes | None:
    """Headers as ``(u16 name length, u32 value length, name, value)*``; None when empty."""
    if not headers:
        return None
    parts: list[bytes] = []
    for name, value in headers.items():
        raw = name.encode()
        if len(raw) > 0xFFFF:
            raise InvalidInput(f"header name {name[:40]!r}... is longer than 65535 bytes")
        parts += (_HEADER.pack(len(raw), len(value)), raw, value)
    return b"".join(parts)


def decode_headers(blob: bytes | None) -> dict[str, bytes]:
    """The inverse of :func:`encode_headers`."""
    headers: dict[str, bytes] = {}
    if not blob:
        return headers
    view = memoryview(blob)
    pos = 0
    while pos < len(view):
        name_len, value_len = _HEADER.unpack_from(view, pos)
        pos += _HEADER.size
        name = bytes(view[pos : pos + name_len]).decode()
        pos += name_len
        headers[name] = bytes(view[pos : pos + value_len])
        pos += value_len
    return headers


_orphans: list[object] = []
"""Connections inherited through fork: kept referenced so they are never closed in the child
(closing a SQLite connection opened by the parent process can corrupt its locks)."""


class Database:
    """One SQLite log file: a connection per thread (and per process), explicit transactions
    and error translation at this boundary."""

    def __init__(self, path: str, *, busy_timeout: float, synchronous: str) -> None:
        if synchronous.upper() not in {"NORMAL", "FULL"}:
            raise InvalidInput(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if busy_timeout <= 0:
            raise InvalidInput(f"busy_timeout must be > 0 seconds, got {busy_timeout}")
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise InvalidInput(f"cannot create the bus file {path!r}: no directory {directory!r}")
        private_file(Path(path))  # records carry inputs and callback URLs: 0600
        self.path = path
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous.upper()
        self._local = threading.local()
        self._pid = os.getpid()
        self._all: list[tuple[threading.Thread, sqlite3.Connection]] = []
        """Every open connection with the thread it belongs to."""
        self.opened = 0
        """Connections this process has opened in all (closed ones included)."""
        self._lock = threading.Lock()
        self._closed = False
        self._checkpoints = WalCheckpoints(self._checkpoint, "nunchi-bus-checkpoint")
        with self.write() as conn:
            for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT first
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise BusError(
                    f"{path} was written by a newer nunchi (schema {version}); upgrade nunchi"
                )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _checkpoint(self) -> bool:
        with self.read() as conn:
            conn.execute(PASSIVE)
        return True

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            # one connection per thread (see ``connection``); False only so close() can
            # close the connections of every thread
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise BusError(f"cannot put {self.path} in WAL mode (got {mode}); use a local disk")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise BusError(f"the sqlite bus {self.path} is closed")
        if os.getpid() != self._pid:  # forked: never touch the parent's connections
            with self._lock:
                if os.getpid() != self._pid:
                    _orphans.extend(conn for _, conn in self._all)
                    self._all = []
                    self._local = threading.local()
                    self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with translate_errors(self):
                conn = self._open()
            with self._lock:
                self._reap()
                self._all.append((threading.current_thread(), conn))
                self.opened += 1
            self._local.conn = conn
        return conn

    def _reap(self) -> None:
        """Close the connections of threads that have ended (with ``_lock`` held): a process
        that publishes from short-lived threads keeps one connection per live thread, not one
        per thread it ever ran."""
        alive = []
        for thread, conn in self._all:
            if thread.is_alive():
                alive.append((thread, conn))
            else:
                with suppress(sqlite3.Error):
                    conn.close()
        self._all = alive

    def open_connections(self) -> int:
        """How many connections this process holds open (one per live thread that used it)."""
        with self._lock:
            return len(self._all)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success, rolled back on error."""
        conn = self.connection()
        with translate_errors(self):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            conn.execute("COMMIT")
        self._checkpoints.wrote()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for reads, with errors translated."""
        conn = self.connection()
        with translate_errors(self):
            yield conn

    def close(self) -> None:
        """Stop the checkpoints and close every connection this process opened."""
        self._checkpoints.stop(close=True, timeout=self.busy_timeout + 1)
        with self._lock:
            self._closed = True
            conns, self._all = [conn for _, conn in self._all], []
        if os.getpid() != self._pid:
            _orphans.extend(conns)
            return
        for conn in conns:
            with suppress(sqlite3.Error):
                conn.close()


@contextmanager
def translate_errors(db: Database) -> Iterator[None]:
    """Turn sqlite3 errors into :class:`BusError` / :class:`BusUnavailable`."""
    try:
        yield
    except sqlite3.OperationalError as e:
        text = str(e).lower()
        if "locked" in text or "busy" in text:
            raise BusUnavailable(
                f"the sqlite bus {db.path} stayed locked for more than {db.busy_timeout}s;"
                " another process holds a long write transaction"
            ) from e
        if "unable to open" in text or "disk" in text or "readonly" in text:
            raise BusUnavailable(f"cannot use the sqlite bus {db.path}: {e}") from e
        raise BusError(f"sqlite bus {db.path}: {e}") from e
    except sqlite3.ProgrammingError as e:
        raise BusError(f"the sqlite bus {db.path} is closed ({e})") from e
    except sqlite3.Error as e:
        raise BusError(f"sqlite bus {db.path}: {e}") from e


def now() -> float:
    """Wall-clock seconds; leases compare times across processes, so not monotonic."""
    return time.time()
