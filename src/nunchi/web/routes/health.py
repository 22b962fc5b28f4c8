"""Liveness, readiness and Prometheus metrics: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from nunchi import __version__
from nunchi.web.deps import ReadinessCheck, web_state
from nunchi.web.errors import error_body, request_id_of

__all__ = ["CHECK_TIMEOUT", "HealthOut", "ReadyOut", "health_router"]

log = logging.getLogger("nunchi.web")

CHECK_TIMEOUT = 3.0
"""Seconds a readiness check may take before it counts as failed."""


class HealthOut(BaseModel):
    """The process is up."""

    status: Literal["ok"] = "ok"
    version: str


class ReadyOut(BaseModel):
    """Whether every dependency answered, check by check (``ok`` or why it failed)."""

    status: Literal["ready", "not_ready"]
    checks: Annotated[dict[str, str], Field(description="Check name -> 'ok' or the failure.")]
    error: Annotated[
        dict[str, Any] | None, Field(description="The error envelope when not ready.")
    ] = None


async def _run_check(name: str, check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(check), timeout=CHECK_TIMEOUT)
    except TimeoutError:
        return f"failed: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as e:
        log.warning("readiness check %s failed: %s: %s", name, type(e).__name__, e)
        return f"failed: {type(e).__name__}"
    return "ok"


def health_router() -> APIRouter:
    """The health and metrics routes (no authentication)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=HealthOut, summary="Liveness")
    def healthz() -> HealthOut:
        """The process is alive (checks no dependency)."""
        return HealthOut(version=__version__)

    @router.get(
        "/readyz",
        response_model=ReadyOut,
        summary="Readiness",
        responses={503: {"model": ReadyOut, "description": "A dependency failed."}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Runs every readiness check (database query, bus reachable); 503 names the ones
        that failed."""
        checks = web_state(request).readiness
        names = sorted(checks)
        results = await asyncio.gather(*(_run_check(n, checks[n]) for n in names))
        outcome = dict(zip(names, results, strict=True))
        failed = [n for n, r in outcome.items() if r != "ok"]
        if not failed:
            return JSONResponse(ReadyOut(status="ready", checks=outcome).model_dump())
        message = "not ready: " + "; ".join(f"{n} check {outcome[n]}" for n in failed)
        body = ReadyOut(
            status="not_ready",
            checks=outcome,
            error=error_body("not_ready", message, request_id_of(request))["error"],
        )
        return JSONResponse(body.model_dump(), status_code=503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics text."}},
    )
    def metrics() -> Response:
        """Every metric of this process in the Prometheus text format."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
