"""The one error tree. Library exceptions are translated into these at adapter boundaries."""

from __future__ import annotations

__all__ = [
    "BusError",
    "BusUnavailable",
    "Busy",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "NunchiError",
    "OutboundBlocked",
    "PayloadTooLarge",
    "PermanentError",
    "StoreError",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
]


class NunchiError(Exception):
    """Root of every error nunchi raises on purpose."""

    code: str = "internal_error"
    status: int = 500


class InvalidInput(NunchiError):
    """The caller sent something we cannot use; the message says what to fix."""

    code = "invalid_input"
    status = 422


class PayloadTooLarge(InvalidInput):
    """The request carries more than the configured limit; the message says the limit."""

    code = "payload_too_large"
    status = 413


class Busy(NunchiError):
    """Too much work is in progress to take this request now; ``Retry-After`` says when to
    try again."""

    code = "busy"
    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class UnsupportedMediaType(InvalidInput):
    """The content is not of a kind we accept (not an image, an old .xls ...); the message
    names what was detected and what is accepted."""

    code = "unsupported_media_type"
    status = 415


class FetchFailed(InvalidInput):
    """A user-supplied URL could not be fetched (HTTP error status, timeout, network error);
    ``reason`` is a short machine-readable cause such as ``"http_status"`` or ``"timeout"``."""

    code = "fetch_failed"
    status = 422

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(NunchiError):
    """The thing asked for does not exist."""

    code = "not_found"
    status = 404


class Conflict(NunchiError):
    """The request clashes with the current state (e.g. retrying a job that is running)."""

    code = "conflict"
    status = 409


class Unauthorized(NunchiError):
    """No valid credentials."""

    code = "unauthorized"
    status = 401


class Forbidden(NunchiError):
    """Valid credentials without the needed scope."""

    code = "forbidden"
    status = 403


class PermanentError(NunchiError):
    """A stage failure that retrying cannot fix; the runtime dead-letters it at once."""

    code = "permanent_error"


class OutboundBlocked(PermanentError):
    """An outbound fetch was refused (private address, bad scheme, redirect to a private host)."""

    code = "outbound_blocked"
    status = 422


class BusError(NunchiError):
    """The event log failed."""

    code = "bus_error"
    status = 503


class BusUnavailable(BusError):
    """The event log cannot be reached."""

    code = "bus_unavailable"


class StoreError(NunchiError):
    """The database or blob store failed."""

    code = "store_error"
    status = 503


class Unavailable(NunchiError):
    """A part of nunchi this request needs is not running (yet): starting, stopping."""

    code = "unavailable"
    status = 503
