"""The chat app's pure parts: scoring (in the thread and in scorer processes alike), the
records between its stages, the mood and chart shapes of the live page, alert conditions and
rule checks, and notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from nunchi.analyzers.text.chat_scoring import ScoringPool, score_texts
from nunchi.apps.chat.alerts import check_rule, negative_spike, profane_rate
from nunchi.apps.chat.live import message_event, minute_chart, mood, word_cloud
from nunchi.apps.chat.records import (
    ScoredMessage,
    deletion_message,
    is_deletion,
    raw_message,
    received_at,
    scored_message,
)
from nunchi.apps.chat.schemas import MessageOut, MinuteOut
from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage
from nunchi.bus.base import Record
from nunchi.config import Settings
from nunchi.errors import InvalidInput

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEXTS = ["오늘 방송 재밌다 ㅋㅋ", "ㅅㅂ 진짜 개노잼", "시1발 뭐하냐", "좋아요 최고", "", "ㅋ" * 300]


def message(i: int = 1, text: str = "안녕하세요 <b>") -> ChatMessage:
    return ChatMessage(
        platform="twitch",
        channel="nunchi",
        broadcast="twitch:nunchi:1",
        message_id=f"m{i}",
        author_id="u1",
        author_name="시청자",
        text=text,
        sent_at=T0,
    )


def record(msg: Any) -> Record:
    return Record(
        topic=msg.topic, partition=0, offset=1, key=msg.key, value=msg.value,
        headers=dict(msg.headers), timestamp=123.0,
    )  # fmt: skip


def test_scores_mask_the_exact_profane_spans() -> None:
    scores = score_texts(TEXTS)
    assert [s.profane for s in scores[:4]] == [False, True, True, False]
    for text, s in zip(TEXTS, scores, strict=True):
        assert len(s.masked) == len(text)
        for a, b in s.spans:
            assert set(s.masked[a:b]) == {"*"}
        assert s.polarity in ("positive", "neutral", "negative")
    assert scores[1].masked.startswith("**") and "진짜" in scores[1].masked
    assert scores[0].polarity == "positive" and scores[1].polarity == "negative"


def test_scorer_processes_score_as_the_thread_does() -> None:
    pool = ScoringPool(1)
    try:
        assert pool.score(TEXTS * 3) == score_texts(TEXTS * 3)
    finally:
        pool.close()
    with pytest.raises(ValueError):
        ScoringPool(-1)


def test_raw_and_scored_records_round_trip() -> None:
    raw = raw_message(message(), watch="w1")
    rec = record(raw)
    assert not is_deletion(rec) and received_at(rec) > 1e9
    scores = score_texts(["안녕하세요 <b>"])[0]
    item = ScoredMessage(ChatMessage.from_json(rec.value), scores, received_at(rec), "w1")
    back = ScoredMessage.from_record(record(scored_message(item, rec.headers)))
    assert back == item
    gone = deletion_message(
        ChatDeletion(
            platform="twitch",
            channel="nunchi",
            broadcast="twitch:nunchi:1",
            deleted_at=T0,
            message_id="m1",
        )
    )
    assert is_deletion(record(gone))
    with pytest.raises(InvalidInput, match="not a scored chat message"):
        ScoredMessage.from_record(record(raw))
    headerless = Record(topic="t", partition=0, offset=0, key=None, value=b"", headers={},
                        timestamp=42.0)  # fmt: skip
    assert received_at(headerless) == 42.0


def minute_out(
    i: int, messages: int, positive: int = 0, negative: int = 0, profane: int = 0
) -> Any:
    return MinuteOut(
        minute=T0 + timedelta(minutes=i), messages=messages, profane=profane,
        positive=positive, neutral=messages - positive - negative, negative=negative,
    )  # fmt: skip


def test_mood_follows_the_last_two_minutes_against_the_five_before() -> None:
    calm = [minute_out(i, 10, positive=8, negative=1) for i in range(5)]
    sour = [*calm, minute_out(5, 10, positive=2, negative=6), minute_out(6, 10, 1, 7)]
    assert mood(calm + calm[:2]).direction == "flat"
    down = mood(sour)
    assert down.direction == "down" and down.change < -0.5 and down.messages == 20
    assert mood([]).direction == "flat" and mood([]).messages == 0


def test_chart_and_word_cloud_shapes() -> None:
    names = {k: k.upper() for k in ("messages", "profane", "positive", "neutral", "negative")}
    chart = minute_chart([minute_out(0, 3, 1, 1), minute_out(1, 5, 2, 2)], names)
    assert chart["x"][0] == T0.isoformat() and chart["x_type"] == "time"
    assert next(s["values"] for s in chart["series"]) == [3, 5]
    assert word_cloud([("방송", 3)]) == {"words": [{"word": "방송", "weight": 3}]}


def test_message_events_carry_text_never_markup() -> None:
    out = MessageOut(
        id=7, broadcast="b", message_id="m", platform="http", author_id="<i>", author_name="<i>",
        text="<script>x</script>", kind="chat", amount=None, currency=None, badges=[],
        sent_at=T0, received_at=T0, profane=False, profanity=0.0, spans=[], masked="<script>x",
        polarity="neutral", polarity_score=0.5, keywords=[], deleted=False,
    )  # fmt: skip
    event = message_event(out)
    assert event["t"] == "<script>x</script>" and event["id"] == 7  # drawn with textContent


def minutes(*rows: tuple[int, int, int]) -> list[Any]:
    return [
        SimpleNamespace(minute=T0 + timedelta(minutes=i), messages=n, negative=neg, profane=neg)
        for i, (n, neg, _) in enumerate(rows)
    ]


SPIKE = {"factor": 2.0, "min_volume": 20, "baseline_minutes": 10}


def test_negative_spike_needs_volume_a_baseline_and_a_real_jump() -> None:
    base = [(30, 3, 0)] * 5
    assert negative_spike(minutes(*base, (30, 20, 0)), SPIKE).holds
    assert not negative_spike(minutes(*base, (10, 9, 0)), SPIKE).holds  # too few messages
    assert not negative_spike(minutes((30, 20, 0)), SPIKE).holds  # no baseline yet
    assert not negative_spike(minutes(*base, (30, 5, 0)), SPIKE).holds  # 17% vs 10%: no
    noisy = [(30, 15, 0)] * 5
    assert not negative_spike(minutes(*noisy, (30, 20, 0)), SPIKE).holds  # not 2x
    found = negative_spike(minutes(*base, (30, 20, 0)), SPIKE)
    assert found.summary["share"] == pytest.approx(0.667, abs=1e-3)
    assert found.summary["baseline"] == pytest.approx(0.1)
    # the current minute is still filling: the one before it is judged
    assert negative_spike(minutes(*base, (30, 20, 0), (2, 0, 0)), SPIKE).holds


def test_profane_rate() -> None:
    assert profane_rate(minutes((30, 10, 0)), {"per_minute": 10}).holds
    assert not profane_rate(minutes((30, 9, 0)), {"per_minute": 10}).holds
    assert not profane_rate([], {"per_minute": 1}).holds


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_rules_are_checked_and_defaults_filled_in() -> None:
    params, channels = check_rule("negative_spike", {"factor": 3}, {"slack": "https://x.com/a"},
                                  settings())  # fmt: skip
    assert params == {"factor": 3.0, "min_volume": 20, "baseline_minutes": 10}
    assert channels == {"slack": "https://x.com/a"}
    problems = {
        "unknown alert kind": ("loud", {}, {"slack": "https://x.com/a"}),
        "takes per_minute": ("profane_rate", {"minutes": 3}, {"slack": "https://x.com/a"}),
        "positive number": ("silence", {"minutes": -1}, {"slack": "https://x.com/a"}),
        "at least one channel": ("silence", {}, {}),
        "not an e-mail": ("silence", {}, {"email": ["a@"]}),
        "NUNCHI_SMTP_HOST": ("silence", {}, {"email": "ops@example.com"}),
        "refused": ("silence", {}, {"webhook": "http://127.0.0.1/x"}),
        "unknown alert channels": ("silence", {}, {"sms": "010", "slack": "https://x.com/a"}),
    }
    for words, (kind, p, c) in problems.items():
        with pytest.raises(InvalidInput, match=words):
            check_rule(kind, p, c, settings())
    _, mail = check_rule("silence", {}, {"email": "a@example.com, b@example.com"},
                         settings(smtp_host="mail.example.com"))  # fmt: skip
    assert mail == {"email": ["a@example.com", "b@example.com"]}


def test_a_quiet_chats_last_messages_are_published_without_waiting_for_more() -> None:
    from nunchi.apps.chat.topics import CHAT_RAW
    from nunchi.apps.chat.watches import Sink
    from nunchi.bus.memory import MemoryBus
    from tests.integration.jobs.conftest import drain, wait_for

    bus = MemoryBus()
    bus.ensure_topic(CHAT_RAW, 1)
    sink = Sink("w1", bus, lambda watch, state: None)
    sink.messages([message(1), message(2)])  # then nothing more arrives
    wait_for(lambda: sink.received == 2, timeout=5, what="the flusher's flush")
    assert [r.headers["watch"] for r in drain(bus, CHAT_RAW)] == [b"w1", b"w1"]
    flusher = sink._flusher
    for i in range(3, 23):  # twenty quiet moments: each burst flushed by the same one thread
        sink.messages([message(i)])
        wait_for(lambda i=i: sink.received == i, timeout=5, what=f"the flush of message {i}")
    assert flusher is not None and sink._flusher is flusher and flusher.is_alive()
    assert len(drain(bus, CHAT_RAW)) == 22  # all of them, in order, once


def test_repeated_chat_is_scored_once_and_the_cache_stays_bounded() -> None:
    from nunchi.analyzers.text.chat_scoring import ChatScorer

    scorer = ChatScorer(cache_size=2)
    calls: list[list[str]] = []
    real = scorer._score
    scorer._score = lambda texts: calls.append(list(texts)) or real(texts)  # type: ignore[method-assign]
    first = scorer.score(["ㅋㅋㅋㅋ", "ㅅㅂ 뭐야", "ㅋㅋㅋㅋ"])
    assert calls == [["ㅋㅋㅋㅋ", "ㅅㅂ 뭐야"]]  # a text twice in one batch: scored once
    assert first[0] == first[2] and first[1].profane
    assert scorer.score(["ㅅㅂ 뭐야"]) == [first[1]] and len(calls) == 1  # from the cache
    scorer.score(["GG", "안녕하세요"])
    assert len(scorer._cache) == 2  # the oldest were dropped
    assert scorer.score(["ㅋㅋㅋㅋ"]) == [first[0]] and calls[-1] == ["ㅋㅋㅋㅋ"]
