"""What the chat app builds once per process from the core: the queries (:class:`ChatService`),
the scorer pool, the watch runner and the ingest publisher."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from nunchi.analyzers.text.chat_scoring import ScoringPool
from nunchi.apps.chat.alerts import AlertEvaluator, AlertRules
from nunchi.apps.chat.models import ChatWatch
from nunchi.apps.chat.records import raw_message
from nunchi.apps.chat.schemas import IngestBatch, WatchOut
from nunchi.apps.chat.service import SOURCE_OPTIONS, WEB_PLATFORMS, ChatService
from nunchi.apps.chat.sources._net import Net
from nunchi.apps.chat.sources.base import ChatMessage, ChatSource, ParseError
from nunchi.apps.chat.sources.replay import read_recording
from nunchi.apps.chat.sources.resolve import resolve_source
from nunchi.apps.chat.topics import CHAT_RAW
from nunchi.apps.chat.watches import WatchRunner
from nunchi.core import Core
from nunchi.errors import InvalidInput, NotFound, PayloadTooLarge
from nunchi.outbound import OutboundPolicy
from nunchi.paths import private_dir
from nunchi.strictjson import check

__all__ = ["SAMPLE_NAME", "ChatServices"]

SAMPLE_NAME = "sample_chat.jsonl.gz"
"""The recorded chat that ships with the app (the demo): see ``data/README.md``."""


def sample_path() -> Path:
    """Where the shipped recorded chat is."""
    return Path(str(resources.files("nunchi.apps.chat").joinpath("data", SAMPLE_NAME)))


@dataclass
class ChatServices:
    """The chat app in one process."""

    core: Core
    chat: ChatService = field(init=False)
    pool: ScoringPool = field(init=False)
    runner: WatchRunner = field(init=False)
    rules: AlertRules = field(init=False)
    evaluator: AlertEvaluator = field(init=False)

    def __post_init__(self) -> None:
        settings = self.core.settings
        scorers = settings.chat_scorers
        self.chat = ChatService(self.core.sessions)
        self.pool = ScoringPool(0 if scorers == "auto" else int(scorers))
        self.runner = WatchRunner(
            self.core.sessions,
            self.core.bus,
            self.make_source,
            partitions=settings.default_partitions,
        )
        self.rules = AlertRules(self.core.sessions, settings, self.core.jobs)
        self.evaluator = AlertEvaluator(self.core.sessions, self.core.jobs)

    # -- sources ------------------------------------------------------------------------

    def make_source(self, watch: ChatWatch) -> ChatSource:
        """The source of a stored watch, with the platform credentials of the settings."""
        settings = self.core.settings
        options: dict[str, Any] = {
            k: v for k, v in (watch.options or {}).items() if k in SOURCE_OPTIONS
        }
        chat_url = (watch.options or {}).get("chat_url")
        if isinstance(chat_url, str):
            options["chat_url"] = _fixed(chat_url)
        platform: str | None = None if watch.platform in WEB_PLATFORMS else watch.platform
        youtube_key = settings.chat_youtube_api_key.get_secret_value()
        chzzk_token = settings.chat_chzzk_access_token.get_secret_value()
        if watch.platform == "youtube" and youtube_key:
            platform, options["api_key"] = "youtube-api", youtube_key
        elif watch.platform == "chzzk" and chzzk_token:
            platform, options["access_token"] = "chzzk-openapi", chzzk_token
        if watch.platform == "replay":
            options["broadcast"] = f"replay:{watch.id}"
        else:
            options["net"] = Net(
                policy=OutboundPolicy.from_settings(settings), http=self.core.client
            )
        return resolve_source(watch.url, platform, **options)

    def start_demo(self, speed: float = 4.0) -> WatchOut:
        """Replay the shipped recorded chat (17 minutes of synthetic Korean chat with a few
        repeat swearers and a negative spike) at ``speed`` times real time."""
        if not 0 < speed <= 100:
            raise InvalidInput("the demo's speed must be above 0 and at most 100")
        return self.start_replay(SAMPLE_NAME, speed, "데모 / demo")

    # -- recordings ---------------------------------------------------------------------

    def recordings_dir(self) -> Path:
        """Where uploaded recordings are kept (the only files a replay started over the API
        or the pages may read)."""
        return private_dir(self.core.settings.data_dir / "chat-recordings")

    def recordings(self) -> list[dict[str, Any]]:
        """The stored recordings (the shipped sample first), with their sizes."""
        found = [{"name": SAMPLE_NAME, "bytes": sample_path().stat().st_size, "sample": True}]
        for path in sorted(self.recordings_dir().iterdir()):
            if path.is_file() and _RECORDING.match(path.name):
                found.append({"name": path.name, "bytes": path.stat().st_size, "sample": False})
        return found

    def recording(self, name: str) -> Path:
        """The file of a stored recording (or the shipped sample); InvalidInput / NotFound
        say what is wrong. A path is never taken: only names of stored recordings."""
        if name == SAMPLE_NAME:
            return sample_path()
        if not _RECORDING.match(name):
            raise InvalidInput(
                f"{name[:80]!r} is not a recording's name: upload the file first "
                "(POST /api/v1/chat/recordings) and replay it by the name it got"
            )
        path = self.recordings_dir() / name
        if not path.is_file():
            raise NotFound(f"no recording {name!r}: see GET /api/v1/chat/recordings")
        return path

    def save_recording(self, filename: str, data: bytes) -> str:
        """Keep an uploaded recording (JSON lines or CSV, gzip allowed) under a safe name;
        returns the name. Refused, and nothing kept, when none of its first lines is usable."""
        given = Path(filename or "recording.jsonl").name
        suffix = re.search(r"\.(jsonl|json|csv)(\.gz)?$", given, re.IGNORECASE)
        if suffix is None:
            raise InvalidInput("a recording is a .jsonl, .json or .csv file (gzip: add .gz)")
        ext = suffix.group(0).lower()
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", given[: suffix.start()]).strip("-")[:80]
        stem = stem or "recording"
        folder = self.recordings_dir()
        name, n = f"{stem}{ext}", 1
        while (folder / name).exists():
            n += 1
            name = f"{stem}-{n}{ext}"
        partial = folder / f".upload-{uuid.uuid4().hex}-{name}"
        partial.write_bytes(data)
        try:
            _check_recording(partial)
            os.replace(partial, folder / name)
        finally:
            partial.unlink(missing_ok=True)
        return name

    def start_replay(self, name: str, speed: float = 1.0, title: str | None = None) -> WatchOut:
        """Replay a stored recording (by name) at ``speed`` times real time (0: at once)."""
        if not 0 <= speed <= 1000:
            raise InvalidInput("the replay's speed must be between 0 and 1000")
        return self.chat.start_watch(
            str(self.recording(name)), platform="replay", title=title or name,
            options={"speed": speed},
        )  # fmt: skip

    # -- ingest -------------------------------------------------------------------------

    def ingest(self, broadcast: str, batch: IngestBatch) -> int:
        """Publish a batch of messages from the HTTP or WebSocket ingest to ``chat.raw``;
        nothing is published when anything in it is refused."""
        limit = self.core.settings.chat_ingest_max_messages
        if len(batch.messages) > limit:
            raise PayloadTooLarge(
                f"{len(batch.messages)} messages in one request; at most {limit} "
                "(NUNCHI_CHAT_INGEST_MAX_MESSAGES): send several batches"
            )
        if not batch.messages:
            raise InvalidInput("messages is empty: send at least one message")
        _check_broadcast(broadcast)
        now = datetime.now(UTC)
        messages = []
        for i, m in enumerate(batch.messages):
            check([m.text, m.author_name, m.author_id, m.message_id], f"messages[{i}]")
            messages.append(
                ChatMessage(
                    platform=batch.platform,
                    channel=batch.channel or broadcast,
                    broadcast=broadcast,
                    message_id=m.message_id,
                    author_id=m.author_id,
                    author_name=m.author_name or m.author_id,
                    text=m.text,
                    sent_at=m.sent_at or now,
                    kind=m.kind,
                    amount=m.amount,
                    currency=m.currency,
                    badges=tuple(m.badges),
                )
            )
        self.core.bus.ensure_topic(CHAT_RAW, self.core.settings.default_partitions)
        self.core.bus.publish_batch([raw_message(m) for m in messages])
        return len(messages)

    def close(self) -> None:
        """End the scorer processes."""
        self.pool.close()


_RECORDING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.(jsonl|json|csv)(\.gz)?$", re.I)


def _check_recording(path: Path) -> None:
    """InvalidInput unless one of the file's first 200 lines is a usable message."""
    first_error = ""
    try:
        for seen, (_, _, parsed) in enumerate(read_recording(path)):
            if not isinstance(parsed, ParseError):
                return
            first_error = first_error or str(parsed)
            if seen >= 200:
                break
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as e:
        raise InvalidInput(f"the recording cannot be read: {e}") from None
    raise InvalidInput(
        "no usable chat line in the recording"
        + (f" (first problem: {first_error})" if first_error else " (it is empty)")
    )




def _fixed(url: str) -> Callable[[str], str]:
    return lambda _channel: url


def _check_broadcast(broadcast: str) -> None:
    if not broadcast or len(broadcast) > 200 or any(c.isspace() for c in broadcast):
        raise InvalidInput("a broadcast id is 1-200 characters without spaces")
