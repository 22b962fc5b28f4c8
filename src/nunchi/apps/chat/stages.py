"""The chat pipeline's stages: ``chat.score`` (``chat.raw`` -> analyzers -> ``chat.scored``)
and ``chat.store`` (``chat.scored`` -> every message stored with its scores, the per-minute,
per-author and keyword aggregates counted, the live pages nudged).

Both take whole polls (``handle_batch``), so the analyzers run vectorised and one transaction
stores a poll. Storing is idempotent on ``(broadcast, message_id)``: a redelivered or replayed
message inserts nothing and counts nothing, so a crash between storing and committing the
offsets never counts a message twice.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from nunchi.analyzers.text.chat_scoring import ScoringPool
from nunchi.apps.chat import metrics
from nunchi.apps.chat.models import (
    ChatMessageRow,
    authors_table,
    broadcasts_table,
    keywords_table,
    messages_table,
    minutes_table,
)
from nunchi.apps.chat.records import ScoredMessage, is_deletion, received_at, scored_message
from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage
from nunchi.apps.chat.topics import CHAT_RAW, CHAT_SCORED, live_channel
from nunchi.bus.base import Message
from nunchi.errors import InvalidInput, PermanentError
from nunchi.runtime.nudges import Nudges
from nunchi.runtime.stage import Delivery, RetryPolicy, Stage, StageContext
from nunchi.store.upsert import insert_new, upsert_add

__all__ = ["SCORE_STAGE", "STORE_STAGE", "score_stage", "store_stage"]

log = logging.getLogger(__name__)

SCORE_STAGE = "chat.score"
STORE_STAGE = "chat.store"
_RETRY = RetryPolicy(max_attempts=10, base_delay=0.2, max_delay=10.0)
_MAX_KEYWORD = 100


class BadChatRecord(PermanentError):
    """A record on a chat topic that is not a message or a deletion (dead-lettered)."""


def score_stage(pool: ScoringPool, partitions: int) -> Stage:
    """``chat.raw`` -> ``chat.scored`` (made with ``partitions`` partitions if missing): a
    poll's messages scored together."""

    def handle_batch(
        deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = [None] * len(deliveries)
        out: list[Message] = []
        batch: list[tuple[int, ChatMessage]] = []
        for i, delivery in enumerate(deliveries):
            record = delivery.record
            if is_deletion(record):
                out.append(Message(CHAT_SCORED, record.value, record.key, dict(record.headers)))
                continue
            try:
                batch.append((i, ChatMessage.from_json(record.value)))
            except InvalidInput as e:
                outcomes[i] = BadChatRecord(str(e))
        scores = pool.score([m.text for _, m in batch])
        for (i, message), score in zip(batch, scores, strict=True):
            record = deliveries[i].record
            watch = record.headers.get("watch")
            owner = watch.decode() if watch else None
            item = ScoredMessage(message, score, received_at(record), owner)
            out.append(scored_message(item, record.headers))
        metrics.count_messages("scored", (m.platform for _, m in batch))
        if out:
            ctx.bus.ensure_topic(CHAT_SCORED, partitions)
            ctx.bus.publish_batch(out)
        return outcomes

    def handle(delivery: Delivery, ctx: StageContext) -> None:
        error = handle_batch([delivery], ctx)[0]
        if error is not None:
            raise error

    return Stage(
        name=SCORE_STAGE,
        topic=CHAT_RAW,
        handle=handle,
        handle_batch=handle_batch,
        retry=_RETRY,
        partitions=partitions,
        own_process=True,
    )


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _message_row(item: ScoredMessage) -> dict[str, object]:
    m, s = item.message, item.scores
    return {
        "broadcast": m.broadcast,
        "message_id": m.message_id,
        "platform": m.platform,
        "author_id": m.author_id,
        "author_name": m.author_name,
        "text": m.text,
        "kind": m.kind,
        "amount": m.amount,
        "currency": m.currency,
        "badges": list(m.badges),
        "sent_at": m.sent_at,
        "received_at": datetime.fromtimestamp(item.received, UTC),
        "profane": s.profane,
        "profanity": s.profanity,
        "spans": [list(p) for p in s.spans],
        "masked": s.masked,
        "polarity": s.polarity,
        "polarity_score": s.polarity_score,
        "keywords": list(s.keywords),
        "deleted": False,
    }


_COUNTERS = ("messages", "profane", "positive", "neutral", "negative")


class _Counts:
    """The aggregates of a poll's newly stored messages."""

    def __init__(self) -> None:
        self.totals: dict[str, Counter[str]] = defaultdict(Counter)
        self.broadcasts: dict[str, dict[str, object]] = {}
        self.last_at: dict[str, datetime] = {}
        self.minutes: dict[tuple[str, datetime], Counter[str]] = defaultdict(Counter)
        self.author_counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.author_last: dict[tuple[str, str], tuple[datetime, str]] = {}
        self.words: Counter[tuple[str, datetime, str]] = Counter()

    def add(self, item: ScoredMessage) -> None:
        m, s = item.message, item.scores
        flags = {"messages": 1, "profane": int(s.profane), s.polarity: 1}
        self.totals[m.broadcast].update(flags)
        self.broadcasts.setdefault(
            m.broadcast,
            {
                "id": m.broadcast,
                "platform": m.platform,
                "channel": m.channel,
                "watch_id": item.watch,
                "first_at": m.sent_at,
            },
        )
        self.last_at[m.broadcast] = max(m.sent_at, self.last_at.get(m.broadcast, m.sent_at))
        minute = _minute(m.sent_at)
        self.minutes[(m.broadcast, minute)].update(flags)
        author = (m.broadcast, m.author_id)
        self.author_counts[author].update(messages=1, profane=int(s.profane))
        last = self.author_last.get(author)
        if last is None or m.sent_at >= last[0]:
            self.author_last[author] = (m.sent_at, m.author_name)
        for word in set(s.keywords):
            self.words[(m.broadcast, minute, word[:_MAX_KEYWORD])] += 1

    def store(self, session: Session) -> None:
        broadcasts = [
            {**row, "last_at": self.last_at[b], **{k: self.totals[b].get(k, 0) for k in _COUNTERS}}
            for b, row in self.broadcasts.items()
        ]
        upsert_add(
            session,
            broadcasts_table,
            broadcasts,
            keys=["id"],
            add=_COUNTERS,
            replace=["last_at", "watch_id"],
        )
        minute_rows = [
            {"broadcast": b, "minute": minute, **{k: counts.get(k, 0) for k in _COUNTERS}}
            for (b, minute), counts in self.minutes.items()
        ]
        upsert_add(session, minutes_table, minute_rows, keys=["broadcast", "minute"], add=_COUNTERS)
        authors = [
            {
                "broadcast": b,
                "author_id": a,
                "author_name": self.author_last[(b, a)][1],
                "last_at": self.author_last[(b, a)][0],
                "messages": counts["messages"],
                "profane": counts["profane"],
            }
            for (b, a), counts in self.author_counts.items()
        ]
        upsert_add(
            session,
            authors_table,
            authors,
            keys=["broadcast", "author_id"],
            add=["messages", "profane"],
            replace=["author_name", "last_at"],
        )
        word_rows = [
            {"broadcast": b, "minute": minute, "word": w, "count": n}
            for (b, minute, w), n in self.words.items()
        ]
        upsert_add(
            session, keywords_table, word_rows, keys=["broadcast", "minute", "word"], add=["count"]
        )


def _delete(session: Session, deletions: Sequence[ChatDeletion]) -> None:
    """Mark what the platform removed: one message, or an author's (or everyone's) messages
    up to the moment of the ban or clear."""
    for d in deletions:
        conditions = [ChatMessageRow.broadcast == d.broadcast]
        if d.message_id:
            conditions.append(ChatMessageRow.message_id == d.message_id)
        else:
            conditions.append(ChatMessageRow.sent_at <= d.deleted_at)
            if d.author_id:
                conditions.append(ChatMessageRow.author_id == d.author_id)
        session.execute(update(ChatMessageRow).where(*conditions).values(deleted=True))


def store_stage(sessions: sessionmaker[Session], nudges: Nudges, partitions: int = 0) -> Stage:
    """``chat.scored`` -> the store: messages (once each), aggregates, deletions."""

    def handle_batch(
        deliveries: Sequence[Delivery], ctx: StageContext
    ) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = [None] * len(deliveries)
        items: dict[tuple[str, str], ScoredMessage] = {}
        deletions: list[ChatDeletion] = []
        for i, delivery in enumerate(deliveries):
            try:
                if is_deletion(delivery.record):
                    deletions.append(ChatDeletion.from_json(delivery.record.value))
                    continue
                item = ScoredMessage.from_record(delivery.record)
            except InvalidInput as e:
                outcomes[i] = BadChatRecord(str(e))
                continue
            items.setdefault((item.message.broadcast, item.message.message_id), item)
        rows = [_message_row(item) for item in items.values()]
        with sessions.begin() as s:
            new = insert_new(
                s,
                messages_table,
                rows,
                keys=["broadcast", "message_id"],
                returning=["broadcast", "message_id"],
            )
            counts = _Counts()
            for row in new:
                counts.add(items[(row.broadcast, row.message_id)])
            counts.store(s)
            _delete(s, deletions)
        stored = (items[(row.broadcast, row.message_id)].message.platform for row in new)
        metrics.count_messages("stored", stored)
        touched = {b for b, _ in items} | {d.broadcast for d in deletions}
        nudges.nudge([live_channel(b) for b in touched])
        return outcomes

    def handle(delivery: Delivery, ctx: StageContext) -> None:
        error = handle_batch([delivery], ctx)[0]
        if error is not None:
            raise error

    return Stage(
        name=STORE_STAGE,
        topic=CHAT_SCORED,
        handle=handle,
        handle_batch=handle_batch,
        retry=_RETRY,
        partitions=partitions,
    )
