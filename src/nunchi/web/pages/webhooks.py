"""Webhook pages: the delivery log (filtered by state, newest first), one delivery with its
payload and attempts, and the redeliver action (an htmx post answered with the refreshed
fragment). Deliveries of one job or batch are listed on that job's or batch's page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from nunchi.web.deps import Webhooks, web_state
from nunchi.web.pages.rendering import (
    PAGE_SIZE,
    is_htmx,
    query_filter,
    render,
    translator,
)
from nunchi.web.pages.security import (
    REDELIVER_SCOPE,
    WEBHOOKS_SCOPE,
    check_csrf,
    may_read,
    page_actor,
)
from nunchi.web.pages.views import DELIVERY_STATUSES, delivery_view, page_view

__all__ = ["PAGE_SIZE", "SUBJECT_LIMIT", "subject_deliveries", "webhooks_pages_router"]

SUBJECT_LIMIT = 20
"""Deliveries shown on a job's or batch's page (newest first)."""


def subject_deliveries(request: Request, subject_id: str, callback_url: Any) -> dict[str, Any]:
    """The ``webhooks`` context of a job's or batch's page: ``shown`` (it has a callback URL,
    this process has the webhook service and the viewer may see deliveries), ``items`` and
    ``more``."""
    if not callback_url or not may_read(request, WEBHOOKS_SCOPE):
        return {"shown": False, "items": [], "more": False}
    service = web_state(request).platform.webhooks
    deliveries = service.list_deliveries(subject_id=subject_id, limit=SUBJECT_LIMIT)
    page = page_view(deliveries, item=delivery_view)
    return {"shown": True, "items": page["items"], "more": page["next_cursor"] is not None}


def webhooks_pages_router() -> APIRouter:
    """Routes of the webhook delivery pages and the redeliver action."""
    router = APIRouter(include_in_schema=False)

    @router.get("/webhooks")
    def webhooks_page(
        request: Request, hooks: Webhooks, status: str | None = None, cursor: str | None = None
    ) -> Response:
        chosen = query_filter(status, "status")  # the service refuses an unknown one
        page = hooks.list_deliveries(
            status=chosen, cursor=query_filter(cursor, "cursor"), limit=PAGE_SIZE
        )
        context = {
            "page": page_view(page, item=delivery_view),
            "filters": {"status": chosen or ""},
            "statuses": DELIVERY_STATUSES,
        }
        if is_htmx(request) and cursor:
            return render(request, "_delivery_rows.html", context)
        return render(request, "webhooks.html", context)

    @router.get("/webhooks/{delivery_id}")
    def delivery_page(request: Request, hooks: Webhooks, delivery_id: str) -> Response:
        delivery = delivery_view(hooks.get(delivery_id))
        return render(request, "delivery.html", {"delivery": delivery, "flash": None})

    @router.post("/webhooks/{delivery_id}/redeliver")
    async def redeliver(request: Request, hooks: Webhooks, delivery_id: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request, REDELIVER_SCOPE)
        service = hooks
        await run_in_threadpool(service.redeliver, delivery_id, actor.name)
        if not is_htmx(request):
            return RedirectResponse(f"/webhooks/{delivery_id}", status_code=303)
        delivery = delivery_view(await run_in_threadpool(service.get, delivery_id))
        flash = {"kind": "ok", "text": translator(request)("delivery.redelivered")}
        return render(request, "_delivery_body.html", {"delivery": delivery, "flash": flash})

    return router
