"""Live-chat sources: one adapter per platform, one interface (:mod:`.base`) for the app.

Each adapter parses its platform's frames with pure ``parse_*`` functions of its own, so a
platform change breaks one adapter, never the app. Every connection goes through the
project's outbound guard (:mod:`nunchi.outbound`).
"""

from nunchi.apps.chat.sources._net import Net
from nunchi.apps.chat.sources.base import (
    DEFAULT_RECONNECT,
    ChatDeletion,
    ChatMessage,
    ChatSource,
    MessageKind,
    ParseError,
    SourceGone,
    SourceSink,
    SourceState,
    StateKind,
)
from nunchi.apps.chat.sources.resolve import SUPPORTED_URLS, resolve_source

__all__ = [
    "DEFAULT_RECONNECT",
    "SUPPORTED_URLS",
    "ChatDeletion",
    "ChatMessage",
    "ChatSource",
    "MessageKind",
    "Net",
    "ParseError",
    "SourceGone",
    "SourceSink",
    "SourceState",
    "StateKind",
    "resolve_source",
]
