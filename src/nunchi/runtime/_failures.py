"""Describing a failed record: error names, short descriptions, and its dead letter."""

from __future__ import annotations

import traceback

from nunchi.bus.base import Record
from nunchi.runtime.deadletter import DeadLetter

__all__ = ["HandleBatchError", "dead_letter_for", "describe", "qualified_name"]

_MAX_ERROR_MESSAGE = 4_000
_MAX_TRACEBACK = 16_000
_MAX_DESCRIPTION = 500


class HandleBatchError(RuntimeError):
    """A stage's ``handle_batch`` broke its contract (wrong number or type of outcomes)."""


def qualified_name(cls: type[BaseException]) -> str:
    """``module.QualName`` of an exception class (builtins without the module)."""
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a broken __str__ must not stop the dead-lettering
        return f"<unprintable {type(error).__name__}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: BaseException) -> str:
    """``Type: message``, clipped to a few hundred characters (for stats pages)."""
    return _clip(f"{qualified_name(type(error))}: {_safe_str(error)}", _MAX_DESCRIPTION)


def dead_letter_for(stage: str, record: Record, error: BaseException, attempts: int) -> DeadLetter:
    """The dead letter of ``record`` after ``error`` on attempt ``attempts``.

    The message is clipped to 4,000 characters and the traceback to its last 16,000, so the
    headers stay well inside every backend's message size limit."""
    trace = "".join(traceback.format_exception(error))
    if len(trace) > _MAX_TRACEBACK:
        trace = "...\n" + trace[-(_MAX_TRACEBACK - 4) :]
    return DeadLetter(
        value=record.value,
        key=record.key,
        original_headers=dict(record.headers),
        stage=stage,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        error_type=qualified_name(type(error)),
        error_message=_clip(_safe_str(error), _MAX_ERROR_MESSAGE),
        traceback=trace,
        attempts=attempts,
    )
