"""The app factory: :func:`create_app` builds the FastAPI app around a
:class:`~nunchi.assembly.Platform`: the platform's API (jobs, webhooks, health and metrics),
every app's API under ``/api/v1/<name>`` and its pages, the home page and navigation, local
static assets and ``/docs``.

This is the one web module that reads the apps list. Nothing connects at import or in
``create_app``: with ``platform`` given the app serves it as it is (the caller starts, stops
and closes it, as ``nunchi up`` does); without, the app opens one from ``settings`` when it
starts (ASGI lifespan; no stage runs then) and closes it when it stops.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

import nunchi.runtime.metrics  # noqa: F401  (the stage metrics exist before any worker runs)
from nunchi import __version__
from nunchi.assembly import Platform, open_platform
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.web.auth import check_auth_mode
from nunchi.web.deps import WebState
from nunchi.web.errors import install_error_handlers
from nunchi.web.i18n import Catalogs
from nunchi.web.metrics import HttpMetricsMiddleware
from nunchi.web.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    StrictJSONMiddleware,
)
from nunchi.web.origin import HostCheckMiddleware
from nunchi.web.pages import pages_router
from nunchi.web.pages.rendering import html_error_renderer, make_environment
from nunchi.web.pages.security import LoginRequired, login_required_handler, require_reader
from nunchi.web.routes.health import health_router
from nunchi.web.routes.jobs import jobs_router
from nunchi.web.routes.webhooks import webhooks_router

if TYPE_CHECKING:
    from nunchi.apps.base import App

__all__ = ["API_DESCRIPTION", "create_app"]

log = logging.getLogger("nunchi.web")

API_DESCRIPTION = """\
nunchi's HTTP API: submit jobs and batches, follow them, retry failures, inspect webhook
deliveries, and each app's own routes under `/api/v1/<app>`. Authenticate with
`Authorization: Bearer <key>` (keys come from `nunchi keys create`). Every error has the
shape `{"error": {"code", "message", "details"?, "request_id"}}`.
"""


def _check_routes(app: FastAPI) -> None:
    """Refuse two routes for one method and path (an app shadowing another's route)."""
    seen: dict[tuple[str, str], str] = {}
    for route in app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods or ():
            key = (method, route.path)
            if key in seen:
                raise InvalidInput(
                    f"{method} {route.path} is declared twice ({seen[key]} and {route.name})"
                )
            seen[key] = route.name


def _mount_apps(app: FastAPI, apps: Sequence[App[Any]]) -> None:
    reader = [Depends(require_reader)]
    for each in apps:
        if each.api is not None:
            router = each.api(each)
            app.include_router(router, prefix=f"/api/v1/{each.name}", tags=[each.name])
            for alias in each.api_aliases:
                app.include_router(router, prefix=f"/api/v1/{alias}", include_in_schema=False)
        if each.pages is not None:
            app.include_router(each.pages(each), include_in_schema=False, dependencies=reader)


def create_app(
    settings: Settings,
    *,
    platform: Platform | None = None,
    apps: Sequence[App[Any]] | None = None,
) -> FastAPI:
    """Build the nunchi web app for ``settings`` (see the module docstring for ``platform``;
    ``apps`` defaults to the platform's, else :data:`nunchi.apps.APPS`)."""
    if settings.max_body_bytes < 1:
        raise InvalidInput(
            f"NUNCHI_MAX_BODY_BYTES is {settings.max_body_bytes}; it must be a positive number "
            "of bytes (default 10485760)"
        )
    check_auth_mode(settings)
    if platform is not None:
        served: tuple[App[Any], ...] = platform.apps
    elif apps is not None:
        served = tuple(sorted(apps, key=lambda a: (a.order, a.name)))
    else:
        from nunchi.apps import APPS

        served = tuple(sorted(APPS, key=lambda a: (a.order, a.name)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: Platform | None = None
        if platform is None:
            owned = await run_in_threadpool(open_platform, settings, served)
            app.state.web = WebState.of(owned)
        try:
            yield
        finally:
            if owned is not None:
                app.state.web = None
                await run_in_threadpool(owned.close)

    app = FastAPI(
        title="nunchi API",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.apps = served
    app.state.catalogs = Catalogs.load((a.name, a.folder("locales")) for a in served)
    app.state.templates = make_environment(
        {a.name: folder for a in served if (folder := a.folder("templates")) is not None}
    )
    app.state.html_error_renderer = html_error_renderer
    app.state.web = WebState.of(platform) if platform is not None else None

    install_error_handlers(app)
    app.add_exception_handler(LoginRequired, login_required_handler)  # the pages' login
    # Added innermost first: strict JSON -> metrics -> body limit -> host check -> request
    # context (outermost).
    app.add_middleware(StrictJSONMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(
        HostCheckMiddleware, allowed=settings.allowed_hosts, bind_host=settings.host
    )
    app.add_middleware(RequestContextMiddleware)

    app.include_router(health_router())
    app.include_router(jobs_router())
    app.include_router(webhooks_router())
    _mount_apps(app, served)
    app.include_router(pages_router())
    _check_routes(app)

    static_dir = resources.files("nunchi.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI served from the bundled assets (works offline)."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="nunchi API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
        )

    return app
