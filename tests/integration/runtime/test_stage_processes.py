"""Stages in processes of their own under ``nunchi up`` (`nunchi.runtime.processes`).

The supervisor is checked against a stand-in ``nunchi`` command (a small script that records
how it was started and obeys or ignores SIGTERM); then a real ``nunchi up`` runs chat scoring
in a child ``nunchi worker``, chat flows through it, and a ``kill -9`` of ``nunchi up`` ends the
child too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks._proc import free_port

from nunchi.runtime.processes import StageProcesses, use_processes
from tests.fixtures.processes import nunchi_command, wait_for

_FAKE = """
import json, os, signal, sys, time
out = os.environ["FAKE_OUT"]
with open(os.path.join(out, f"{os.getpid()}.json"), "w") as fh:
    json.dump(sys.argv[1:], fh)
if os.environ.get("FAKE_STUBBORN"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.05)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], Path]]:
    script = tmp_path / "fake_nunchi.py"
    script.write_text(_FAKE, encoding="utf-8")
    out = tmp_path / "started"
    out.mkdir()
    monkeypatch.setenv("FAKE_OUT", str(out))
    yield [sys.executable, str(script)], out


def _started(out: Path) -> dict[int, list[str]]:
    found = {}
    for path in out.glob("*.json"):
        with contextlib.suppress(ValueError):  # written as we read
            found[int(path.stem)] = json.loads(path.read_text(encoding="utf-8"))
    return found


def test_processes_by_setting_and_cores() -> None:
    assert use_processes("auto", cpus=2) and use_processes("auto", cpus=16)
    assert not use_processes("auto", cpus=1)
    assert use_processes("on", cpus=1) and not use_processes("off", cpus=16)


def test_children_start_as_workers_restart_and_stop(fake: tuple[list[str], Path]) -> None:
    command, out = fake
    children = StageProcesses(["chat.score", "other"], command=command)
    children.start()
    try:
        wait_for(lambda: len(_started(out)) == 2, 20, "both children to start")
        args = sorted(_started(out).values())
        assert args == [
            ["worker", "--stage", stage, "--name", f"up-{stage}", "--parent", str(os.getpid())]
            for stage in ("chat.score", "other")
        ]
        first = children.pids()["chat.score"]
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: children.pids().get("chat.score", first) != first, 20,
                 "the killed child to be started again")  # fmt: skip
        wait_for(lambda: len(_started(out)) == 3, 20, "the new child to run")
        running = children.pids()
    finally:
        children.stop(timeout=10)
    assert not any(_alive(pid) for pid in running.values())
    assert len(_started(out)) == 3, "a child was started again after stop"


def test_a_child_deaf_to_sigterm_is_killed(
    fake: tuple[list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    command, out = fake
    monkeypatch.setenv("FAKE_STUBBORN", "1")
    children = StageProcesses(["chat.score"], command=command)
    children.start()
    wait_for(lambda: len(_started(out)) == 1, 20, "the child to start")
    pid = children.pids()["chat.score"]
    children.stop(timeout=1)
    assert not _alive(pid)


def _children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def test_nunchi_up_scores_chat_in_a_child_that_ends_with_it(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NUNCHI_DATA_DIR": str(tmp_path / "data"),
           "NUNCHI_AUTH_DISABLED": "true", "NUNCHI_STAGE_PROCESSES": "on"}  # fmt: skip
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen([*nunchi_command(), "up", "--host", "127.0.0.1", "--port", str(port)],
                          env=env, stdout=log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:

        def ready() -> bool:
            assert up.poll() is None, (tmp_path / "up.log").read_text(errors="replace")
            try:
                return client.get("/readyz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 120, "nunchi up to be ready")
        scorers = [c for c in _children_of(up.pid) if "chat.score" in _cmdline(c)]
        assert len(scorers) == 1, [_cmdline(c) for c in _children_of(up.pid)]
        scorer = scorers[0]
        assert _cmdline(scorer)[-6:] == ["--stage", "chat.score", "--name", "up-chat.score",
                                         "--parent", str(up.pid)]  # fmt: skip
        ops = client.get("/ops")
        assert ops.status_code == 200
        assert f"<code>chat.score</code> (프로세스 {scorer})" in ops.text
        body = {"messages": [{"message_id": str(i), "author_id": "a", "text": f"안녕 {i} 씨발"}
                             for i in range(30)]}  # fmt: skip
        assert client.post("/api/v1/chat/b1/messages", json=body).status_code == 202

        def stored() -> bool:
            r = client.get("/api/v1/chat/b1")
            return r.status_code == 200 and r.json()["messages"] == 30

        wait_for(stored, 60, "the messages scored in the child and stored")
        page = client.get("/api/v1/chat/b1/messages", params={"limit": 5}).json()
        assert all(m["profane"] and "씨발" not in m["masked"] for m in page["items"])

        os.kill(up.pid, signal.SIGKILL)
        up.wait(10)
        wait_for(lambda: not _alive(scorer), 15, "the child to end after nunchi up was killed")
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)
        up.wait(10)
        log.close()
