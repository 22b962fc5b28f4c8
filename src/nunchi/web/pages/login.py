"""``/login`` and ``/logout``: open a web session by entering an API key (to read the pages
where they need a login, and to use the retry buttons while API keys are required) and close
it again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from nunchi.errors import Unauthorized
from nunchi.urls import split_url
from nunchi.web.deps import Keys
from nunchi.web.pages.rendering import render, translator
from nunchi.web.pages.security import (
    SESSION_COOKIE,
    SESSION_TTL,
    check_csrf,
    new_session_token,
)

__all__ = ["login_pages_router", "safe_next"]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, normalised (``.`` and ``..``
    segments resolved, repeated slashes folded), so nothing a browser could read as another
    site (``//host``, ``/.//host``, ``/\\host``) survives; ``/`` otherwise."""
    if not target or not target.startswith("/") or any(c in target for c in "\\\r\n\t"):
        return "/"
    parts = split_url(target)
    if parts is None or parts.scheme or parts.netloc:
        return "/"
    segments: list[str] = []
    for segment in parts.path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    return f"{path}?{parts.query}" if parts.query else path


def login_pages_router() -> APIRouter:
    """Routes of the login form and logout."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_form(request: Request, next: str | None = None) -> Response:
        return render(request, "login.html", {"next": safe_next(next), "problem": None})

    @router.post("/login")
    async def login(request: Request, keys: Keys) -> Response:
        await check_csrf(request)
        form = await request.form()
        key = form.get("key")
        target = form.get("next")
        target_path = safe_next(target if isinstance(target, str) else None)
        t = translator(request)
        problem: str | None = None
        if not isinstance(key, str) or not key.strip():
            problem = t("login.missing")
        else:
            try:
                principal = await run_in_threadpool(keys.verify, key)
            except Unauthorized:  # every valid key may read; actions check their own scope
                problem = t("login.invalid")
        if problem is not None:
            context = {"next": target_path, "problem": problem}
            return render(request, "login.html", context, status=401)
        token = await run_in_threadpool(new_session_token, keys, principal)
        response = RedirectResponse(target_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request, keys: Keys) -> Response:
        await check_csrf(request)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await run_in_threadpool(keys.close_session, token)
        response = RedirectResponse("/jobs", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router
