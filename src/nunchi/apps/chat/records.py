"""How chat travels on the event log: raw messages and deletions on ``chat.raw``, scored
messages (and the deletions, passed on) on ``chat.scored``. Keyed by broadcast; headers say
the kind, when nunchi received the message and which watch it came from."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from nunchi.analyzers.text.chat_scoring import Scores
from nunchi.apps.chat.sources.base import ChatDeletion, ChatMessage
from nunchi.apps.chat.topics import CHAT_RAW, CHAT_SCORED, KIND_DELETION, KIND_HEADER, KIND_MESSAGE
from nunchi.bus.base import Message, Record
from nunchi.errors import InvalidInput

__all__ = [
    "RECEIVED_HEADER",
    "WATCH_HEADER",
    "ScoredMessage",
    "deletion_message",
    "is_deletion",
    "raw_message",
    "received_at",
    "scored_message",
]

RECEIVED_HEADER = "received"
"""Epoch seconds (text) when nunchi got the message: the start of its latency."""
WATCH_HEADER = "watch"


def _headers(kind: bytes, received: float | None, watch: str | None) -> dict[str, bytes]:
    headers = {KIND_HEADER: kind, RECEIVED_HEADER: f"{received or time.time():.6f}".encode()}
    if watch:
        headers[WATCH_HEADER] = watch.encode()
    return headers


def raw_message(
    message: ChatMessage, *, watch: str | None = None, received: float | None = None
) -> Message:
    """A message as a source or the ingest route publishes it on ``chat.raw``; ``received``
    (epoch seconds, default now) is when nunchi got it, where its latency starts."""
    headers = _headers(KIND_MESSAGE, received, watch)
    return Message(CHAT_RAW, message.to_json(), message.broadcast.encode(), headers)


def deletion_message(deletion: ChatDeletion, *, watch: str | None = None) -> Message:
    """A platform's deletion on ``chat.raw``."""
    headers = _headers(KIND_DELETION, None, watch)
    return Message(CHAT_RAW, deletion.to_json(), deletion.broadcast.encode(), headers)


def received_at(record: Record) -> float:
    """When nunchi got the record's message (its publish time when the header is missing)."""
    raw = record.headers.get(RECEIVED_HEADER)
    try:
        return float(raw) if raw is not None else record.timestamp
    except ValueError:
        return record.timestamp


@dataclass(frozen=True, slots=True)
class ScoredMessage:
    """A message with its scores, as ``chat.scored`` carries it."""

    message: ChatMessage
    scores: Scores
    received: float
    watch: str | None = None

    def to_json(self) -> bytes:
        """UTF-8 JSON: the message, its scores and when it was received."""
        s = self.scores
        doc = {
            "m": self.message.to_dict(),
            "s": [
                s.profane,
                s.profanity,
                [list(p) for p in s.spans],
                s.masked,
                s.polarity,
                s.polarity_score,
                list(s.keywords),
            ],
        }
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_record(cls, record: Record) -> ScoredMessage:
        """Parse a ``chat.scored`` message record; InvalidInput when it is not one."""
        try:
            doc = json.loads(record.value)
            profane, profanity, spans, masked, polarity, score, words = doc["s"]
            scores = Scores(
                profane=bool(profane),
                profanity=float(profanity),
                spans=tuple((int(a), int(b)) for a, b in spans),
                masked=str(masked),
                polarity=str(polarity),
                polarity_score=float(score),
                keywords=tuple(str(w) for w in words),
            )
            message = ChatMessage.from_dict(doc["m"])
        except (ValueError, TypeError, KeyError) as e:
            raise InvalidInput(f"not a scored chat message: {e}") from e
        watch = record.headers.get(WATCH_HEADER)
        return cls(message, scores, received_at(record), watch.decode() if watch else None)


def scored_message(item: ScoredMessage, headers: Mapping[str, bytes]) -> Message:
    """The ``chat.scored`` record of ``item`` (the raw record's headers kept)."""
    return Message(CHAT_SCORED, item.to_json(), item.message.broadcast.encode(), dict(headers))


def is_deletion(record: Record) -> bool:
    """Whether ``record`` carries a deletion rather than a message."""
    return record.headers.get(KIND_HEADER) == KIND_DELETION
