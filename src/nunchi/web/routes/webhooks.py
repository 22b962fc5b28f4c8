"""Webhook delivery log API: list deliveries, show one with its attempts, redeliver by hand.

Every route needs the ``admin`` scope: deliveries carry receiver URLs (which often embed
tokens) and event payloads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from nunchi.jobs.webhooks.schemas import DeliveryDetail, DeliveryInfo, DeliveryPage
from nunchi.jobs.webhooks.service import MAX_PAGE, WebhookService
from nunchi.web.auth import AdminPrincipal, require_scope

__all__ = ["webhooks_router"]

_DeliveryId = Annotated[
    str, Path(description="A delivery id (32 hex digits)", pattern=r"^[0-9a-f]{32}$")
]


def _service(request: Request) -> WebhookService:
    service: WebhookService | None = getattr(request.app.state, "webhooks", None)
    if service is None:
        raise HTTPException(503, "webhook deliveries are not available: no webhook service")
    return service


def webhooks_router() -> APIRouter:
    """The ``/api/v1/webhooks`` routes; the service is ``request.app.state.webhooks``."""
    admin = require_scope("admin")
    router = APIRouter(prefix="/api/v1", tags=["webhooks"])

    @router.get(
        "/webhooks/deliveries",
        response_model=DeliveryPage,
        summary="List webhook deliveries",
        dependencies=[Depends(admin)],
    )
    async def list_deliveries(
        request: Request,
        status: Annotated[
            Literal["pending", "delivered", "failed"] | None,
            Query(description="Only deliveries in this state"),
        ] = None,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor of the previous page", pattern=r"^[0-9a-f]{32}$"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    ) -> DeliveryPage:
        """Deliveries, newest first."""
        service = _service(request)
        return await run_in_threadpool(
            service.list_deliveries, status=status, cursor=cursor, limit=limit
        )

    @router.get(
        "/webhooks/deliveries/{delivery_id}",
        response_model=DeliveryDetail,
        summary="Show a webhook delivery with its attempts",
        dependencies=[Depends(admin)],
    )
    async def get_delivery(request: Request, delivery_id: _DeliveryId) -> DeliveryDetail:
        """One delivery, its payload and every attempt (status, error, response excerpt)."""
        service = _service(request)
        return await run_in_threadpool(service.get, delivery_id)

    @router.post(
        "/webhooks/deliveries/{delivery_id}/redeliver",
        response_model=DeliveryInfo,
        status_code=202,
        summary="Send a webhook delivery again",
    )
    async def redeliver(
        request: Request,
        delivery_id: _DeliveryId,
        principal: AdminPrincipal,
    ) -> DeliveryInfo:
        """Reset the delivery to pending and attempt it now (logged as manual, with the
        caller's key name); failures are retried on the usual schedule."""
        service = _service(request)
        return await run_in_threadpool(service.redeliver, delivery_id, principal.name)

    return router
