"""Topics of the chat app: raw chat from the sources and ingest, and scored chat for storing.

Both are keyed by broadcast, so one broadcast's messages stay in order on one partition and N
workers on Kafka share the broadcasts."""

from __future__ import annotations

__all__ = [
    "CHAT_RAW",
    "CHAT_SCORED",
    "KIND_DELETION",
    "KIND_HEADER",
    "KIND_MESSAGE",
    "live_channel",
]

CHAT_RAW = "chat.raw"
"""Messages and deletions as the sources and the ingest routes got them."""
CHAT_SCORED = "chat.scored"
"""Messages with their profanity, polarity and keywords, and deletions, to be stored."""
KIND_HEADER = "kind"
"""Header telling a message (``message``) from a deletion (``deletion``)."""
KIND_MESSAGE = b"message"
KIND_DELETION = b"deletion"


def live_channel(broadcast: str) -> str:
    """The nudge channel of a broadcast's live page."""
    return f"chat:{broadcast}"
