"""Webhook delivery log API: list deliveries, show one with its attempts, redeliver by hand.

Every route needs the ``admin`` scope: deliveries carry receiver URLs (which often embed
tokens) and event payloads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from nunchi.web.auth import AdminPrincipal, require_scope
from nunchi.web.deps import Webhooks
from nunchi.webhooks.schemas import DeliveryDetail, DeliveryInfo, DeliveryPage
from nunchi.webhooks.service import MAX_PAGE

__all__ = ["webhooks_router"]

_DeliveryId = Annotated[
    str, Path(description="A delivery id (32 hex digits)", pattern=r"^[0-9a-f]{32}$")
]


def webhooks_router() -> APIRouter:
    """The ``/api/v1/webhooks`` routes."""
    admin = require_scope("admin")
    router = APIRouter(prefix="/api/v1", tags=["webhooks"])

    @router.get(
        "/webhooks/deliveries",
        response_model=DeliveryPage,
        summary="List webhook deliveries",
        dependencies=[Depends(admin)],
    )
    async def list_deliveries(
        service: Webhooks,
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
        return await run_in_threadpool(
            service.list_deliveries, status=status, cursor=cursor, limit=limit
        )

    @router.get(
        "/webhooks/deliveries/{delivery_id}",
        response_model=DeliveryDetail,
        summary="Show a webhook delivery with its attempts",
        dependencies=[Depends(admin)],
    )
    async def get_delivery(service: Webhooks, delivery_id: _DeliveryId) -> DeliveryDetail:
        """One delivery, its payload and every attempt (status, error, response excerpt)."""
        return await run_in_threadpool(service.get, delivery_id)

    @router.post(
        "/webhooks/deliveries/{delivery_id}/redeliver",
        response_model=DeliveryInfo,
        status_code=202,
        summary="Send a webhook delivery again",
    )
    async def redeliver(
        service: Webhooks,
        delivery_id: _DeliveryId,
        principal: AdminPrincipal,
    ) -> DeliveryInfo:
        """Reset the delivery to pending and attempt it now (logged as manual, with the
        caller's key name); failures are retried on the usual schedule."""
        return await run_in_threadpool(service.redeliver, delivery_id, principal.name)

    return router
