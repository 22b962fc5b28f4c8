"""The web layer: app factory, error envelope, API keys, health and metrics, pages.

- ``create_app(settings, platform=...)`` (:mod:`nunchi.web.app`) builds the FastAPI app: the
  platform's JSON API under ``/api/v1`` (jobs, webhooks), every app's under
  ``/api/v1/<app>``, ``/healthz``, ``/readyz``, ``/metrics``, the home page and every app's
  pages with one navigation bar, ``/static`` and ``/docs`` (Swagger UI from bundled files).
- Routes reach services through the dependencies of :mod:`nunchi.web.deps`.
- Errors: one envelope ``{"error": {"code", "message", "details"?, "request_id"}}``
  (:mod:`nunchi.web.errors`); every response carries ``X-Request-ID``; bodies over
  ``NUNCHI_MAX_BODY_BYTES`` get 413 ``payload_too_large`` and JSON that cannot be stored 422
  (:mod:`nunchi.web.middleware`); only IP addresses, loopback names and
  ``NUNCHI_ALLOWED_HOSTS`` are served (:mod:`nunchi.web.origin`).
- API auth: ``Authorization: Bearer nk_<prefix>_<secret>`` checked by
  :func:`nunchi.web.auth.require_scope`; keys come from ``nunchi keys create`` and are
  stored only as digests (:mod:`nunchi.web.keys`). ``NUNCHI_AUTH_DISABLED=true`` (loopback
  only) lets every request act as ``anonymous``. ``/healthz``, ``/readyz`` and ``/metrics``
  need no key.
- Pages (Korean first, ``?lang=en`` switches and is remembered in a cookie): reading them
  needs a browser session opened on ``/login`` with any API key where ``NUNCHI_PAGES_LOGIN``
  says so (:mod:`nunchi.web.pages.security`); page actions need the scope of the API's route
  for the same action, and every page POST carries a CSRF token bound to the session.
- Shared pieces for apps: live updates over server-sent events (:mod:`nunchi.web.sse`),
  chart and word-cloud macros (``_charts.html``), safe uploads (:mod:`nunchi.web.uploads`).
"""
