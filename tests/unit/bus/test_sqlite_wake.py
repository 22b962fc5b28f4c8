"""Wake-ups of the SQLite log across processes (`nunchi.bus._sqlite_wake`): a publish reaches
the other processes' notifiers as a hint, a dead process's socket is cleared away, the last
bus on a file closes its relay, and a publish in another OS process wakes this one's notifier
(not its own re-check of the file: the notifier's version moves without any local publish)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from nunchi.bus._sqlite_db import notifier_for, release_notifier
from nunchi.bus._sqlite_wake import Relay
from nunchi.bus.sqlite import SqliteBus
from tests.fixtures.processes import wait_for


def test_a_publish_reaches_the_other_relays_not_its_own(tmp_path: Path) -> None:
    log = str(tmp_path / "bus.db")
    got: dict[str, list[list[str] | None]] = {"a": [], "b": []}
    a = Relay(log, got["a"].append)
    b = Relay(log, got["b"].append)
    try:
        a.send(["chat.raw", "jobs"])
        wait_for(lambda: got["b"] == [["chat.raw", "jobs"]], 10, "b to be woken")
        b.send(None)
        wait_for(lambda: got["a"] == [None], 10, "a to be woken for every topic")
        assert got["b"] == [["chat.raw", "jobs"]]
    finally:
        a.close()
        b.close()
    assert not list(a.folder.glob("*.sock"))


def test_the_socket_of_a_gone_process_is_removed(tmp_path: Path) -> None:
    log = str(tmp_path / "bus.db")
    a = Relay(log, lambda topics: None)
    stale = a.folder / "999999-dead.sock"
    gone = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    gone.bind(str(stale))
    gone.close()  # the file stays, as after a kill -9
    try:
        a.refresh()
        a.send(["t"])
        assert not stale.exists()
    finally:
        a.close()


def test_the_last_bus_on_a_file_closes_its_relay(tmp_path: Path) -> None:
    log = str(tmp_path / "bus.db")
    first, second = SqliteBus(log), SqliteBus(log)
    relay = notifier_for(log).relay
    release_notifier(log)  # the lookup above is a user too
    assert relay is not None and Path(relay.address).exists()
    first.close()
    assert Path(relay.address).exists()
    second.close()
    second.close()  # twice: released once
    assert not Path(relay.address).exists()


_PUBLISHER = """
import sys
from nunchi.bus.sqlite import SqliteBus
bus = SqliteBus(sys.argv[1])
bus.ensure_topic("wake.t", 1)
sys.stdout.write("ready\\n"); sys.stdout.flush()
for line in sys.stdin:
    bus.publish("wake.t", line.strip().encode())
    sys.stdout.write("sent\\n"); sys.stdout.flush()
bus.close()
"""


def test_a_publish_in_another_process_wakes_this_ones_pollers(tmp_path: Path) -> None:
    log = str(tmp_path / "bus.db")
    bus = SqliteBus(log)
    bus.ensure_topic("wake.t", 1)
    notifier = notifier_for(log)
    publisher = subprocess.Popen([sys.executable, "-c", _PUBLISHER, log], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert publisher.stdin is not None and publisher.stdout is not None
        assert publisher.stdout.readline().strip() == "ready"
        relay = notifier.relay
        assert relay is not None
        before = notifier.version(["wake.t"])

        def woken() -> bool:  # the publisher lists this process's socket within a second
            publisher.stdin.write("x\n")  # type: ignore[union-attr]
            publisher.stdin.flush()  # type: ignore[union-attr]
            publisher.stdout.readline()  # type: ignore[union-attr]
            return notifier.version(["wake.t"]) > before

        wait_for(woken, 20, "a wake-up from the other process", interval=0.2)
        assert relay.received >= 1
        bus.publish("wake.t", b"here")  # and this process's own publish still works
    finally:
        if publisher.stdin:
            publisher.stdin.close()
        publisher.wait(20)
        release_notifier(log)
        bus.close()
