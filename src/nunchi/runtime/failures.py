"""Describing failures, one way everywhere: :func:`error_record` is what a dead letter, a
failed attempt's event and a job's final error all say about an exception.

Messages come from exceptions whose text may quote outside input, so they are made storable
(:func:`nunchi.strictjson.scrub`) and clipped; tracebacks keep their last 16,000 characters.
"""

from __future__ import annotations

import traceback

from nunchi.bus.base import Record
from nunchi.runtime.deadletter import DeadLetter
from nunchi.strictjson import scrub

__all__ = [
    "MAX_ERROR_MESSAGE",
    "MAX_TRACEBACK",
    "HandleBatchError",
    "dead_letter_for",
    "describe",
    "error_record",
    "qualified_name",
]

MAX_ERROR_MESSAGE = 4_000
MAX_TRACEBACK = 16_000
_MAX_DESCRIPTION = 500


class HandleBatchError(RuntimeError):
    """A stage's ``handle_batch`` broke its contract (wrong number or type of outcomes)."""


def qualified_name(cls: type[BaseException]) -> str:
    """``module.QualName`` of an exception class (builtins without the module)."""
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _safe_str(error: BaseException) -> str:
    try:
        return scrub(str(error))
    except Exception:  # a broken __str__ must not stop the dead-lettering
        return f"<unprintable {type(error).__name__}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _traceback(error: BaseException) -> str:
    trace = scrub("".join(traceback.format_exception(error)))
    if len(trace) > MAX_TRACEBACK:
        trace = "...\n" + trace[-(MAX_TRACEBACK - 4) :]
    return trace


def error_record(error: BaseException, *, with_traceback: bool = False) -> dict[str, str]:
    """``{"type": "module.Class", "message": ..., "traceback"?: ...}`` of ``error``: the
    qualified type name, the message clipped to 4,000 characters and, when asked, the last
    16,000 characters of the traceback."""
    record = {
        "type": qualified_name(type(error)),
        "message": _clip(_safe_str(error), MAX_ERROR_MESSAGE),
    }
    if with_traceback:
        record["traceback"] = _traceback(error)
    return record


def describe(error: BaseException) -> str:
    """``Type: message``, clipped to a few hundred characters (for stats pages)."""
    return _clip(f"{qualified_name(type(error))}: {_safe_str(error)}", _MAX_DESCRIPTION)


def dead_letter_for(stage: str, record: Record, error: BaseException, attempts: int) -> DeadLetter:
    """The dead letter of ``record`` after ``error`` on attempt ``attempts`` (the failure as
    :func:`error_record` describes it, so the headers stay well inside every backend's
    message size limit)."""
    described = error_record(error, with_traceback=True)
    return DeadLetter(
        value=record.value,
        key=record.key,
        original_headers=dict(record.headers),
        stage=stage,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        error_type=described["type"],
        error_message=described["message"],
        traceback=described["traceback"],
        attempts=attempts,
    )
