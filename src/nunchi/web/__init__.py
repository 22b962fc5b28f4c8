"""The web layer: app factory, error envelope, API keys, health and metrics, pages.

- ``create_app(settings, services=...)`` (:mod:`nunchi.web.app`) builds the FastAPI app:
  the JSON API under ``/api/v1`` (jobs and webhook routers), ``/healthz``, ``/readyz``,
  ``/metrics``, the pages, ``/static`` and ``/docs`` (Swagger UI from bundled files: no CDN).
- Errors: one envelope ``{"error": {"code", "message", "details"?, "request_id"}}``
  (:mod:`nunchi.web.errors`); every response carries ``X-Request-ID``; bodies over
  ``NUNCHI_MAX_BODY_BYTES`` get 413 ``payload_too_large`` (:mod:`nunchi.web.middleware`).
- API auth: ``Authorization: Bearer nk_<prefix>_<secret>`` checked by
  :func:`nunchi.web.auth.require_scope`; keys come from ``nunchi keys create`` and are
  stored only as digests (:mod:`nunchi.web.keys`). ``NUNCHI_AUTH_DISABLED=true`` lets every
  request act as ``anonymous``. ``/healthz``, ``/readyz`` and ``/metrics`` need no key.
- Pages (Korean first, ``?lang=en`` switches and is remembered in a cookie): reading them
  needs a browser session opened on ``/login`` with any API key where ``NUNCHI_PAGES_LOGIN``
  says so: ``always``, ``never``, or ``auto`` (the default) = only when the server listens
  beyond loopback (behind a reverse proxy on the same machine, set ``always``); never while
  ``NUNCHI_AUTH_DISABLED``. Browsers without a session are sent to ``/login`` and back,
  other clients get a 401 envelope. Page *actions* need ``NUNCHI_AUTH_DISABLED`` or a
  session whose key has the scope of the API's route for the same action (``submit`` to
  retry a job or a batch's failures, ``admin`` to redeliver a webhook); every page POST also
  carries a CSRF token (:mod:`nunchi.web.pages.security`).

Imports are lazy so that importing a model module (``nunchi.web.keys``, e.g. from the
Alembic environment) does not pull in FastAPI and the templates.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nunchi.web.app import create_app
    from nunchi.web.services import AppServices, build_services

__all__ = ["AppServices", "build_services", "create_app"]

_LAZY = {
    "create_app": "nunchi.web.app",
    "AppServices": "nunchi.web.services",
    "build_services": "nunchi.web.services",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nunchi.web' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
