"""Errors of the input readers that :mod:`nunchi.errors` does not have yet.

They subclass :class:`~nunchi.errors.InvalidInput`, so every handler of bad input (the API's
error envelope, the CLI) already treats them as the caller's mistake; only the status and the
code are more precise. (To move into :mod:`nunchi.errors`.)
"""

from __future__ import annotations

from nunchi.errors import InvalidInput

__all__ = ["FetchFailed", "UnsupportedMediaType"]


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
