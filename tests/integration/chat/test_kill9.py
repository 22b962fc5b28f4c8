"""Crash test of the chat pipeline: ``kill -9`` of the worker running ``chat.score`` and
``chat.store`` mid-stream (embedded SQLite store and log); a new worker stores every message
exactly once, and every aggregate (minutes, broadcast totals, authors, keywords) equals what
the stored messages say: nothing lost, nothing counted twice."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from nunchi.apps.chat.app import CHAT_APP
from nunchi.apps.chat.models import (
    ChatAuthor,
    ChatBroadcast,
    ChatKeyword,
    ChatMessageRow,
    ChatMinute,
)
from nunchi.apps.chat.schemas import IngestBatch
from nunchi.assembly import open_platform
from nunchi.config import Settings
from tests.fixtures.processes import WorkerProcesses, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TOTAL = 20_000
BROADCASTS = ("http:crash:a", "http:crash:b", "http:crash:c")
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEXTS = (
    "오늘 방송 재밌다 ㅋㅋ", "ㅅㅂ 진짜 개노잼", "게임 실력 최고", "진짜 최악이다 실망이야",
    "시1발 뭐하냐", "노래 좋아요", "ㅋㅋㅋㅋ", "채팅 빠르다", "병신같네", "방송 언제 끝나요",
)  # fmt: skip


def batches(rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Ingest bodies of TOTAL unique messages over three broadcasts and 20 minutes, plus a
    tenth of them sent again (a client retrying)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for b, broadcast in enumerate(BROADCASTS):
        per = TOTAL // len(BROADCASTS) + (1 if b < TOTAL % len(BROADCASTS) else 0)
        messages = [
            {
                "message_id": f"{b}-{i}",
                "author_id": f"u{rng.randrange(200)}",
                "text": rng.choice(TEXTS),
                "sent_at": (T0 + timedelta(seconds=i * 1200 // per)).isoformat(),
            }
            for i in range(per)
        ]
        for start in range(0, per, 500):
            out.append((broadcast, {"messages": messages[start : start + 500]}))
        again = rng.sample(messages, per // 10)
        out.append((broadcast, {"messages": again[:500]}))
    rng.shuffle(out)
    return out


def stored(sessions: Any) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(ChatMessageRow)) or 0


def check_aggregates(sessions: Any) -> None:
    with sessions() as s:
        rows = s.execute(
            select(
                ChatMessageRow.broadcast, ChatMessageRow.author_id, ChatMessageRow.sent_at,
                ChatMessageRow.profane, ChatMessageRow.polarity, ChatMessageRow.keywords,
            )
        ).all()  # fmt: skip
        minutes = {(m.broadcast, m.minute): m for m in s.scalars(select(ChatMinute))}
        broadcasts = {b.id: b for b in s.scalars(select(ChatBroadcast))}
        authors = {(a.broadcast, a.author_id): a for a in s.scalars(select(ChatAuthor))}
        words = {(k.broadcast, k.minute, k.word): k.count for k in s.scalars(select(ChatKeyword))}
    want_minutes: Counter[tuple[str, datetime, str]] = Counter()
    want_authors: Counter[tuple[str, str, str]] = Counter()
    want_words: Counter[tuple[str, datetime, str]] = Counter()
    for broadcast, author, sent_at, profane, polarity, keywords in rows:
        minute = sent_at.replace(second=0, microsecond=0)
        for key in ("messages", polarity, *(["profane"] if profane else [])):
            want_minutes[(broadcast, minute, key)] += 1
            want_authors[(broadcast, author, key)] += key in ("messages", "profane")
        for word in set(keywords):
            want_words[(broadcast, minute, word)] += 1
    for (broadcast, minute, key), n in want_minutes.items():
        assert getattr(minutes[(broadcast, minute)], key) == n, (broadcast, minute, key)
    assert sum(m.messages for m in minutes.values()) == TOTAL
    for broadcast, b in broadcasts.items():
        assert b.messages == sum(n for (x, _, k), n in want_minutes.items() if x == broadcast
                                 and k == "messages")  # fmt: skip
    for (broadcast, author, key), n in want_authors.items():
        if key in ("messages", "profane"):
            assert getattr(authors[(broadcast, author)], key) == n, (broadcast, author, key)
    assert words == dict(want_words)


def test_chat_worker_killed_mid_stream_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, worker_processes: WorkerProcesses
) -> None:
    data = tmp_path / "data"
    env = {"NUNCHI_DATA_DIR": str(data), "NUNCHI_CHAT_SCORERS": "0"}
    settings = Settings(_env_file=None, data_dir=data, chat_scorers=0)  # type: ignore[call-arg]
    platform = open_platform(settings)
    try:
        chat = platform.services(CHAT_APP)
        for broadcast, body in batches(random.Random(7)):
            chat.ingest(broadcast, IngestBatch.model_validate(body))
        sessions = platform.sessions

        first = worker_processes.start("chat-1", env, stages=["chat.score", "chat.store"])
        wait_for(lambda: stored(sessions) >= TOTAL * 0.2, timeout=120,
                 what="a fifth of the chat stored", alive=[first])  # fmt: skip
        first.kill9()
        at_kill = stored(sessions)
        assert first.returncode == -9
        assert TOTAL * 0.2 <= at_kill < TOTAL, at_kill

        second = worker_processes.start("chat-2", env, stages=["chat.score", "chat.store"])
        wait_for(lambda: stored(sessions) == TOTAL, timeout=180,
                 what="every message stored", alive=[second])  # fmt: skip
        with sessions() as s:  # the live pages' cursor: rows only ever grow
            assert s.scalar(select(func.count(func.distinct(ChatMessageRow.message_id)))) == TOTAL
        wait_for(lambda: _settled(sessions), timeout=60, what="the aggregates", alive=[second])
        check_aggregates(sessions)
        assert second.terminate() == 0
    finally:
        platform.close()


def _settled(sessions: Any) -> bool:
    with sessions() as s:
        return (s.scalar(select(func.sum(ChatMinute.messages))) or 0) >= TOTAL


def test_scorer_processes_end_when_their_worker_is_killed(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    script = (
        "from nunchi.analyzers.text.chat_scoring import ScoringPool\n"
        "import multiprocessing, sys\n"
        "if __name__ == '__main__':\n"
        "    pool = ScoringPool(1)\n"
        "    pool.score(['안녕', 'ㅅㅂ'])\n"
        "    print(*[p.pid for p in multiprocessing.active_children()], flush=True)\n"
        "    sys.stdin.read()\n"
    )
    path = tmp_path / "worker.py"
    path.write_text(script, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        children = [int(p) for p in proc.stdout.readline().split()]
        assert children, "the pool started no scorer process"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        def gone() -> bool:
            for pid in children:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    continue
                with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                    if fh.read().split()[2] != "Z":  # a zombie is gone already
                        return False
            return True

        wait_for(gone, timeout=15, what="the orphaned scorer to exit")
    finally:
        proc.kill()
