"""The dead-letter record format: the original message plus headers describing the failure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nunchi.bus.base import Record

__all__ = [
    "H_ATTEMPTS",
    "H_ERROR_MESSAGE",
    "H_ERROR_TYPE",
    "H_ORIGINAL_OFFSET",
    "H_ORIGINAL_PARTITION",
    "H_ORIGINAL_TOPIC",
    "H_STAGE",
    "H_TRACEBACK",
    "DeadLetter",
]

H_ERROR_TYPE = "nunchi-error-type"
H_ERROR_MESSAGE = "nunchi-error-message"
H_TRACEBACK = "nunchi-traceback"
H_ATTEMPTS = "nunchi-attempts"
H_ORIGINAL_TOPIC = "nunchi-original-topic"
H_ORIGINAL_PARTITION = "nunchi-original-partition"
H_ORIGINAL_OFFSET = "nunchi-original-offset"
H_STAGE = "nunchi-stage"

_OURS = frozenset(
    {
        H_ERROR_TYPE,
        H_ERROR_MESSAGE,
        H_TRACEBACK,
        H_ATTEMPTS,
        H_ORIGINAL_TOPIC,
        H_ORIGINAL_PARTITION,
        H_ORIGINAL_OFFSET,
        H_STAGE,
    }
)


@dataclass(frozen=True)
class DeadLetter:
    """A message that exhausted its retries (or failed permanently), as read from ``<topic>.dlq``.

    The DLQ record's value and key are the original message's; its headers are the original
    headers plus the ``nunchi-*`` failure headers."""

    value: bytes
    key: bytes | None
    original_headers: Mapping[str, bytes]
    stage: str
    original_topic: str
    original_partition: int
    original_offset: int
    error_type: str
    error_message: str
    traceback: str
    attempts: int

    def headers(self) -> dict[str, bytes]:
        """Headers to publish this dead letter with."""
        h = dict(self.original_headers)
        h.update(
            {
                H_STAGE: self.stage.encode(),
                H_ORIGINAL_TOPIC: self.original_topic.encode(),
                H_ORIGINAL_PARTITION: str(self.original_partition).encode(),
                H_ORIGINAL_OFFSET: str(self.original_offset).encode(),
                H_ERROR_TYPE: self.error_type.encode(),
                H_ERROR_MESSAGE: self.error_message.encode(),
                H_TRACEBACK: self.traceback.encode(),
                H_ATTEMPTS: str(self.attempts).encode(),
            }
        )
        return h

    @classmethod
    def from_record(cls, record: Record) -> DeadLetter:
        """Parse a record read from a dead-letter topic."""
        h = record.headers

        def text(name: str) -> str:
            return bytes(h.get(name, b"")).decode("utf-8", "replace")

        return cls(
            value=record.value,
            key=record.key,
            original_headers={k: v for k, v in h.items() if k not in _OURS},
            stage=text(H_STAGE),
            original_topic=text(H_ORIGINAL_TOPIC),
            original_partition=int(text(H_ORIGINAL_PARTITION) or -1),
            original_offset=int(text(H_ORIGINAL_OFFSET) or -1),
            error_type=text(H_ERROR_TYPE),
            error_message=text(H_ERROR_MESSAGE),
            traceback=text(H_TRACEBACK),
            attempts=int(text(H_ATTEMPTS) or 0),
        )
