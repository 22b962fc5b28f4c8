"""Showing URLs (bus, blob store, callbacks) in messages, logs and to readers without their
secrets."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["redact_url", "split_url", "url_origin"]

_SECRET_WORDS = ("password", "secret", "token", "key", "jaas", "credential")
"""A query parameter whose name contains one of these has its value masked."""


def split_url(text: str) -> SplitResult | None:
    """``urlsplit(text)``, or None where Python cannot split it (an unclosed ``[`` of an IPv6
    address, a bad port): the one way nunchi reads a URL it was given, so such input is a
    4xx wherever it comes in (a header, a form field, a JSON body), never a 500."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return None
    return parts


def redact_url(url: str) -> str:
    """``url`` for messages and logs: its user info masked (``scheme://***@host…``), the
    values of query parameters whose names look secret (``sasl.password``,
    ``ssl.key.password``…) masked, and URLs given as query values redacted the same way.

    The user info ends at the last ``@`` before the first ``=`` after the first ``?``, so a
    password with ``/``, ``#``, ``=`` or ``?`` in it is masked whole, while an ``@`` in a query
    value (``sasl.username=me@example.com``) is not taken for one. (A password holding a
    ``?`` followed by an ``=`` is ambiguous with a query; URLs must percent-encode both.)"""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    question = rest.find("?")
    equals = rest.find("=", question) if question >= 0 else -1
    at = rest.rfind("@", 0, equals if equals >= 0 else len(rest))
    if at >= 0:
        rest = "***" + rest[at:]
    base, q, query = rest.partition("?")
    if q:
        parts = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            if eq and any(word in name.lower() for word in _SECRET_WORDS):
                part = f"{name}=***"
            elif "://" in value:  # a URL as a value (endpoint=http://KEY:SECRET@HOST)
                part = f"{name}={redact_url(value)}"
            parts.append(part)
        query = "&".join(parts)
    return f"{scheme}{sep}{base}{q}{query}"


def url_origin(url: str) -> str:
    """Where ``url`` points, without what may carry a token: ``scheme://host[:port]/…``
    (user info, path and query dropped). For readers who may know that a callback exists
    but not its address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{port}/…"
