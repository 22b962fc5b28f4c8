"""The platform's HTML pages (Korean first): home, jobs, batches, webhook deliveries,
operations, login. (Each app brings its own pages through the app contract.)

Pages call the same services as the API (through :mod:`nunchi.web.deps`); templates live in
``nunchi/web/templates`` and always autoescape.
Every page but the login form needs a web session when ``settings.pages_login`` asks for one
(:func:`nunchi.web.pages.security.require_reader`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from nunchi.web.pages.home import home_pages_router
from nunchi.web.pages.jobs import jobs_pages_router
from nunchi.web.pages.login import login_pages_router
from nunchi.web.pages.ops import ops_pages_router
from nunchi.web.pages.security import WEBHOOKS_SCOPE, require_page_scope, require_reader
from nunchi.web.pages.webhooks import webhooks_pages_router

__all__ = ["pages_router"]


def pages_router() -> APIRouter:
    """Every page route (left out of the OpenAPI schema)."""
    router = APIRouter(include_in_schema=False)
    reader = [Depends(require_reader)]
    router.include_router(home_pages_router(), dependencies=reader)
    router.include_router(jobs_pages_router(), dependencies=reader)
    admin = [Depends(require_page_scope(WEBHOOKS_SCOPE))]
    router.include_router(webhooks_pages_router(), dependencies=admin)
    router.include_router(ops_pages_router(), dependencies=reader)
    router.include_router(login_pages_router())
    return router
