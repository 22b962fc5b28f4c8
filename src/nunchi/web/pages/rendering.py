"""Rendering pages: the Jinja2 environment (autoescape always on; the platform's templates and
each app's under ``<name>/``), the common page context (language, translator, navigation, CSRF
token, who is logged in) and HTML error pages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    select_autoescape,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from nunchi import __version__
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.web.errors import is_htmx
from nunchi.web.i18n import (
    LANG_COOKIE,
    SUPPORTED_LANGUAGES,
    Catalogs,
    Translator,
    choose_language,
)
from nunchi.web.pages.security import CSRF_COOKIE, csrf_token_for, viewer

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGE_SIZE",
    "html_error_renderer",
    "is_htmx",
    "make_environment",
    "navigation",
    "plain",
    "render",
    "render_text",
    "translator",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
"""Pages load nothing from elsewhere and run no inline script (htmx injects a style)."""


def plain(value: Any) -> Any:
    """A pydantic model, dataclass or mapping as plain dicts/lists (other values as they are)."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _pretty_json(value: Any) -> str:
    """JSON for people: indented, Hangul as is. Returned as text, so autoescape applies."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _when(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` UTC ('' for none)."""
    if value is None or value == "":
        return ""
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _number(value: Any) -> str:
    """An integer with thousands separators ('–' for unknown)."""
    if value is None:
        return "–"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _short_id(value: Any) -> str:
    """A long id shortened for tables: time-ordered ids share their head, so keep the tail."""
    text = str(value)
    return text if len(text) <= 16 else f"{text[:8]}…{text[-6:]}"


def _query(params: Mapping[str, Any]) -> str:
    """A query string of the non-empty ``params`` (with a leading ``?``, or '')."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def make_environment(app_templates: Mapping[str, Path] | None = None) -> Environment:
    """The template environment: the platform's templates, each app's under its name
    (``chat/live.html``), autoescape everywhere, strict names."""
    apps = {name: FileSystemLoader(str(folder)) for name, folder in (app_templates or {}).items()}
    loader = ChoiceLoader([PackageLoader("nunchi.web", "templates"), PrefixLoader(apps)])
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pretty_json"] = _pretty_json
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.filters["short_id"] = _short_id
    env.globals["query"] = _query
    env.globals["version"] = __version__
    return env


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _language_links(request: Request) -> list[dict[str, str]]:
    """Links to this page in each language: relative (``?lang=…``), so a path that looks
    like another site (``//evil.example/x``) can never make them leave this one."""
    links = []
    for code in SUPPORTED_LANGUAGES:
        params = dict(request.query_params)
        params.pop("cursor", None)
        params["lang"] = code
        links.append({"code": code, "url": "?" + urlencode(params)})
    return links


_CORE_NAV = (
    ("/jobs", "nav.jobs", ("/jobs", "/batches")),
    ("/webhooks", "nav.webhooks", ("/webhooks",)),
    ("/ops", "nav.ops", ("/ops",)),
)


def navigation(request: Request, lang: str) -> list[dict[str, Any]]:
    """The navigation bar: every app with a page (in their order), then the platform's pages;
    ``current`` marks the one the request is on."""
    path = request.url.path
    items: list[dict[str, Any]] = []
    for app in request.app.state.apps:
        if app.path is not None:
            current = path == app.path or path.startswith(f"/{app.name}/")
            items.append({"href": app.path, "label": app.text(app.title, lang), "current": current})
    t = translator(request)
    for href, key, prefixes in _CORE_NAV:
        current = any(path == p or path.startswith(p + "/") for p in prefixes)
        items.append({"href": href, "label": t(key), "current": current})
    return items


def _context(request: Request, context: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = _settings(request)
    choice = choose_language(request, settings.default_language)
    csrf, _ = csrf_token_for(request)
    t = translator(request)
    values: dict[str, Any] = {
        "request": request,
        "path": request.url.path,
        "lang": choice.lang,
        "t": t,
        "known": t.knows,
        "nav": navigation(request, choice.lang),
        "languages": _language_links(request),
        "csrf_token": csrf,
        "viewer": viewer(request),
        "auth_disabled": settings.auth_disabled,
        "htmx": is_htmx(request),
    }
    values.update(context or {})
    return values


def render_text(request: Request, template: str, context: Mapping[str, Any] | None = None) -> str:
    """``template`` rendered with the common page context, as text (a fragment for a live
    update; blocking, so it may run in a worker thread)."""
    env: Environment = request.app.state.templates
    return env.get_template(template).render(_context(request, context))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the common page context; sets the language and CSRF cookies
    when needed and the security headers every page gets."""
    settings = _settings(request)
    choice = choose_language(request, settings.default_language)
    csrf, new_csrf = csrf_token_for(request)
    response = HTMLResponse(render_text(request, template, context), status_code=status)
    secure = request.url.scheme == "https"
    if choice.remember:
        response.set_cookie(
            LANG_COOKIE, choice.lang, max_age=365 * 86400, samesite="lax", secure=secure
        )
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure, path="/"
        )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Cookie, HX-Request"
    return response


def html_error_renderer(request: Request, status: int, error: Mapping[str, Any]) -> Response | None:
    """The error as an HTML page (or fragment for htmx); installed on ``app.state``."""
    if getattr(request.app.state, "templates", None) is None:
        return None
    template = "_error.html" if is_htmx(request) else "error.html"
    return render(request, template, {"status": status, "error": dict(error)}, status=status)


FILTER_MAX = 200
"""Longest value a page's filter or cursor query parameter may have."""
PAGE_SIZE = 50
"""Rows per page of a list page (jobs, webhook deliveries)."""


def query_filter(value: str | None, name: str) -> str | None:
    """A page's query parameter, stripped; None when empty; :class:`InvalidInput` if too long."""
    value = (value or "").strip()
    if len(value) > FILTER_MAX:
        raise InvalidInput(f"the {name} filter is {len(value)} characters; at most {FILTER_MAX}")
    return value or None


def translator(request: Request) -> Translator:
    """The translator for the language this request is answered in (the platform's and
    every app's messages)."""
    settings = request.app.state.settings
    catalogs: Catalogs = request.app.state.catalogs
    return Translator(choose_language(request, settings.default_language).lang, catalogs)
