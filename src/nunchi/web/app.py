"""The app factory: :func:`create_app` builds the FastAPI app (API routers, health and
metrics, pages, local static assets, ``/docs``) around :class:`AppServices`.

Nothing connects at import or in ``create_app``: with ``services`` given the app uses them
as they are (the caller closes them); without, the app opens them from ``settings`` when it
starts (ASGI lifespan) and closes them when it stops.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from nunchi import __version__
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.web.auth import check_auth_mode
from nunchi.web.errors import install_error_handlers
from nunchi.web.metrics import HttpMetricsMiddleware
from nunchi.web.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    StrictJSONMiddleware,
)
from nunchi.web.origin import HostCheckMiddleware
from nunchi.web.pages import pages_router
from nunchi.web.pages.rendering import html_error_renderer, make_environment
from nunchi.web.pages.security import LoginRequired, login_required_handler
from nunchi.web.routes.health import health_router
from nunchi.web.services import AppServices, build_services

__all__ = ["API_DESCRIPTION", "create_app"]

log = logging.getLogger("nunchi.web")

API_DESCRIPTION = """\
nunchi's HTTP API: submit jobs and batches, follow them, retry failures, inspect webhook
deliveries. Authenticate with `Authorization: Bearer <key>` (keys come from
`nunchi keys create`). Every error has the shape
`{"error": {"code", "message", "details"?, "request_id"}}`.
"""

_ROUTERS: tuple[tuple[str, str], ...] = (
    ("nunchi.web.routes.jobs", "jobs_router"),
    ("nunchi.web.routes.webhooks", "webhooks_router"),
    ("nunchi.web.routes.analyze", "analyze_router"),
)
"""API routers owned by other parts of nunchi, mounted when their module exists."""


def _optional_router(module: str, factory: str) -> APIRouter | None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and e.name.startswith("nunchi."):
            log.warning("%s is not available (%s); its routes are not mounted", module, e.name)
            return None
        raise
    make: Callable[[], APIRouter] = getattr(mod, factory)
    return make()


def _bind(app: FastAPI, services: AppServices) -> None:
    """Expose ``services`` where routes look for them (``request.app.state``)."""
    state = app.state
    state.services = services
    state.jobs = services.jobs
    state.webhooks = services.webhooks
    state.keys = services.keys
    state.sessions = services.sessions
    state.bus = services.bus
    state.worker_stats = services.worker_stats
    state.readiness = dict(services.readiness)


def _register_runtime_metrics() -> None:
    """Make sure the stage metrics exist in the registry even before a worker runs."""
    try:
        importlib.import_module("nunchi.runtime.metrics")
    except ModuleNotFoundError as e:  # pragma: no cover - runtime lands separately
        if e.name != "nunchi.runtime.metrics":
            raise


def create_app(settings: Settings, *, services: AppServices | None = None) -> FastAPI:
    """Build the nunchi web app for ``settings`` (see the module docstring for services)."""
    if settings.max_body_bytes < 1:
        raise InvalidInput(
            f"NUNCHI_MAX_BODY_BYTES is {settings.max_body_bytes}; it must be a positive number "
            "of bytes (default 10485760)"
        )
    check_auth_mode(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: AppServices | None = None
        if services is None:
            owned = await run_in_threadpool(build_services, settings)
            _bind(app, owned)
        try:
            yield
        finally:
            if owned is not None:
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
    app.state.templates = make_environment()
    app.state.html_error_renderer = html_error_renderer
    _bind(app, services if services is not None else AppServices())
    _register_runtime_metrics()

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
    for module, factory in _ROUTERS:
        router = _optional_router(module, factory)
        if router is not None:
            app.include_router(router)
    app.include_router(pages_router())

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
