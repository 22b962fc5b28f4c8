"""Replay a recorded chat file at real speed or N times faster.

Formats: JSON lines (one object per line) or CSV with a header, the same column names:
``sent_at`` (ISO-8601 with a zone) or ``offset_ms`` (from the start), ``author_id``,
``author_name``, ``text``, and optionally ``kind``, ``amount``, ``currency``, ``message_id``
and ``badges`` (a JSON list, or ``|``-separated in CSV). A line that cannot be used is
reported through ``parse_failure`` with its line number and skipped.

Timing: a line's offset is ``offset_ms`` when given, else its ``sent_at`` minus the first
``sent_at`` of the file; it is emitted ``offset / speed`` seconds after the replay started
(``speed=0`` emits as fast as possible). A line earlier than the one before it goes at once.
``sent_at`` of the emitted message is the **replay time** (when it was emitted), so the app
sees a live-looking stream; the recorded time is kept in ``original_sent_at`` when the line
had one. The broadcast id is ``replay:<file name>`` unless one is given (the chat app gives
each watch its own, so a replay restarted after a crash stores every line once);
``message_id`` defaults to ``<file name>:<line number>``. A ``.gz`` file is read through gzip.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from nunchi.apps.chat.sources.base import (
    ChatMessage,
    ChatSource,
    ParseError,
    SessionContext,
    SourceGone,
)
from nunchi.errors import InvalidInput

__all__ = ["RecordedLine", "ReplaySource", "parse_recorded_row", "read_recording"]

_KINDS = ("chat", "donation", "subscription", "system")


class RecordedLine:
    """One usable line: where it sits in time and the message fields."""

    __slots__ = ("fields", "line", "offset_ms", "sent_at")

    def __init__(
        self, line: int, offset_ms: float | None, sent_at: datetime | None, fields: dict[str, Any]
    ) -> None:
        self.line = line
        self.offset_ms = offset_ms
        self.sent_at = sent_at
        self.fields = fields


def _text(row: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise ParseError(f"missing {key!r}")
        return ""
    return str(value)


def parse_recorded_row(row: Any, line: int) -> RecordedLine:
    """Validate one row (a JSON object, or a CSV row as strings). Raises ParseError."""
    if not isinstance(row, Mapping):
        raise ParseError(f"line {line}: not a JSON object")
    try:
        offset_ms: float | None = None
        sent_at: datetime | None = None
        raw_offset = row.get("offset_ms")
        if raw_offset not in (None, ""):
            try:
                offset_ms = float(raw_offset)
            except (TypeError, ValueError) as e:
                raise ParseError(f"offset_ms {raw_offset!r} is not a number") from e
            if offset_ms < 0:
                raise ParseError("offset_ms is negative")
        raw_time = row.get("sent_at")
        if raw_time not in (None, ""):
            try:
                sent_at = datetime.fromisoformat(str(raw_time).replace("Z", "+00:00"))
            except ValueError as e:
                raise ParseError(f"sent_at {raw_time!r} is not ISO-8601") from e
            if sent_at.tzinfo is None:
                raise ParseError(f"sent_at {raw_time!r} has no time zone")
        if offset_ms is None and sent_at is None:
            raise ParseError("needs sent_at or offset_ms")
        kind = _text(row, "kind", required=False) or "chat"
        if kind not in _KINDS:
            raise ParseError(f"kind {kind!r} is not one of {list(_KINDS)}")
        amount: int | None = None
        if row.get("amount") not in (None, ""):
            try:
                amount = int(str(row["amount"]))
            except ValueError as e:
                raise ParseError(f"amount {row['amount']!r} is not an integer") from e
        badges_raw = row.get("badges")
        if isinstance(badges_raw, list):
            badges = tuple(str(b) for b in badges_raw)
        elif isinstance(badges_raw, str) and badges_raw.startswith("["):
            try:
                badges = tuple(str(b) for b in json.loads(badges_raw))
            except ValueError as e:
                raise ParseError(f"badges {badges_raw!r} is not a JSON list") from e
        elif isinstance(badges_raw, str) and badges_raw:
            badges = tuple(b for b in badges_raw.split("|") if b)
        else:
            badges = ()
        fields = {
            "author_id": _text(row, "author_id"),
            "author_name": _text(row, "author_name", required=False) or _text(row, "author_id"),
            "text": _text(row, "text", required=False),
            "kind": kind,
            "amount": amount,
            "currency": _text(row, "currency", required=False) or None,
            "message_id": _text(row, "message_id", required=False) or None,
            "badges": badges,
        }
    except ParseError as e:
        raise ParseError(f"line {line}: {e}") from e
    return RecordedLine(line, offset_ms, sent_at, fields)


def _open(path: Path) -> TextIO:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def read_recording(path: Path) -> Iterator[tuple[int, str, RecordedLine | ParseError]]:
    """The file's rows in order as (line number, raw text, parsed line or its error).
    CSV is chosen by a ``.csv`` suffix (``.csv.gz`` too); everything else is read as JSON
    lines; a ``.gz`` file is read through gzip."""
    name = path.name.lower().removesuffix(".gz")
    with _open(path) as handle:
        if name.endswith(".csv"):
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                return
            for row in reader:
                line = reader.line_num
                raw = ",".join(str(v) for v in row.values())
                if None in row:
                    yield line, raw, ParseError(f"line {line}: more cells than the header has")
                    continue
                try:
                    yield line, raw, parse_recorded_row(row, line)
                except ParseError as e:
                    yield line, raw, e
            return
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as e:
                yield number, raw, ParseError(f"line {number}: not valid JSON: {e}")
                continue
            try:
                yield number, raw, parse_recorded_row(row, number)
            except ParseError as e:
                yield number, raw, e


class ReplaySource(ChatSource):
    """Plays a recording back as if it were live (see the module docs for the timing)."""

    platform = "replay"

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 1.0,
        platform: str = "replay",
        channel: str | None = None,
        broadcast: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.path = Path(path)
        if speed < 0:
            raise InvalidInput(f"replay speed must be 0 (as fast as possible) or more, not {speed}")
        if not self.path.is_file():
            raise InvalidInput(f"recorded chat file {self.path} does not exist")
        self.speed = speed
        self.message_platform = platform
        self._channel = channel or self.path.name.split(".")[0]
        self._broadcast = broadcast or f"replay:{self.path.name}"
        self._clock = clock
        self._now = now

    @property
    def channel(self) -> str:
        """The channel name given, or the file's stem."""
        return self._channel

    def _broadcast_hint(self) -> str | None:
        return self._broadcast

    def _session(self, ctx: SessionContext) -> None:
        broadcast = self._broadcast
        started = self._clock()
        ctx.live()
        try:
            self._play(ctx, broadcast, started)
        except (OSError, UnicodeDecodeError) as e:
            raise SourceGone(f"cannot read the recorded chat {self.path.name}: {e}") from e

    def _play(self, ctx: SessionContext, broadcast: str, started: float) -> None:
        first_time: datetime | None = None
        for number, raw, item in read_recording(self.path):
            if isinstance(item, ParseError):
                ctx.parse_failure(raw.strip(), item)
                continue
            if item.offset_ms is not None:
                offset = item.offset_ms / 1000
            else:
                assert item.sent_at is not None
                first_time = first_time or item.sent_at
                offset = (item.sent_at - first_time).total_seconds()
            if self.speed > 0:
                delay = started + offset / self.speed - self._clock()
                if delay > 0 and ctx.wait(delay):
                    return
            if ctx.stop.is_set():
                return
            f = item.fields
            ctx.sink.messages(
                [
                    ChatMessage(
                        platform=self.message_platform,
                        channel=self._channel,
                        broadcast=broadcast,
                        message_id=f["message_id"] or f"{self.path.name}:{number}",
                        author_id=f["author_id"],
                        author_name=f["author_name"],
                        text=f["text"],
                        sent_at=self._now(),
                        kind=f["kind"],
                        amount=f["amount"],
                        currency=f["currency"],
                        badges=f["badges"],
                        original_sent_at=item.sent_at,
                    )
                ]
            )
