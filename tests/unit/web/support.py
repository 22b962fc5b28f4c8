"""Helpers for page tests: the CSRF token a page's forms carry, and logging in through the form."""

from __future__ import annotations

import html
import re

import httpx
from fastapi.testclient import TestClient

__all__ = ["csrf_headers", "log_in", "log_out", "page_csrf"]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"|"X-CSRF-Token": "([^"]+)"')


def page_csrf(c: TestClient, path: str = "/jobs") -> str:
    """The CSRF token of the page at ``path`` (its forms' field, or the header htmx sends),
    as a browser would send it."""
    page = c.get(path, headers={"Accept": "text/html"})
    found = _CSRF.search(page.text)
    assert found, f"no CSRF token on {path} (HTTP {page.status_code})"
    return html.unescape(found.group(1) or found.group(2))


def csrf_headers(c: TestClient, path: str = "/jobs") -> dict[str, str]:
    """Headers of an htmx action sent from the page at ``path``."""
    return {"X-CSRF-Token": page_csrf(c, path), "HX-Request": "true"}


def log_in(c: TestClient, key: str, target: str = "/jobs") -> httpx.Response:
    """Submit the login form with ``key``; the response (303 on success)."""
    form = {"key": key, "csrf_token": page_csrf(c, "/login"), "next": target}
    return c.post("/login", data=form, follow_redirects=False)


def log_out(c: TestClient) -> httpx.Response:
    """Submit the logout form of the jobs page."""
    return c.post("/logout", data={"csrf_token": page_csrf(c, "/login")}, follow_redirects=False)
