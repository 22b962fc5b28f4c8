"""Job pages: the filtered job list, a job's detail and history, a batch's progress, and
the retry actions (htmx posts answered with the refreshed fragment)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from nunchi.assembly import Platform
from nunchi.errors import InvalidInput
from nunchi.jobs.service import JobService
from nunchi.web.deps import Jobs, PlatformDep
from nunchi.web.pages.rendering import (
    PAGE_SIZE,
    is_htmx,
    query_filter,
    render,
    render_text,
    translator,
)
from nunchi.web.pages.security import WEBHOOKS_SCOPE, check_csrf, may_read, page_actor
from nunchi.web.pages.views import JOB_STATUSES, batch_view, job_view, page_view
from nunchi.web.pages.webhooks import subject_deliveries
from nunchi.web.sse import ServerEvent, event_stream

__all__ = ["PAGE_SIZE", "jobs_pages_router"]


def _job_context(
    request: Request, jobs: JobService, job_id: str, flash: dict[str, str] | None
) -> dict[str, Any]:
    """Everything a job's page (or its refreshed fragment) shows (blocking: the store)."""
    private = may_read(request, WEBHOOKS_SCOPE)
    job = job_view(jobs.get(job_id).for_reader(private))
    webhooks = subject_deliveries(request, job["id"], job["callback_url"])
    return {"job": job, "webhooks": webhooks, "flash": flash}


def _batch_context(
    request: Request, service: JobService, batch_id: str, flash: dict[str, str] | None
) -> dict[str, Any]:
    """Everything a batch's page (or its refreshed fragment) shows (blocking: the store)."""
    private = may_read(request, WEBHOOKS_SCOPE)
    batch = batch_view(service.get_batch(batch_id).for_reader(private))
    page = page_view(service.list(batch=batch_id, limit=PAGE_SIZE).for_reader(private))
    webhooks = subject_deliveries(request, batch["id"], batch["callback_url"])
    return {"batch": batch, "page": page, "webhooks": webhooks, "flash": flash}


_LIVE_GAP = 0.25
"""Seconds between two updates of one live page (a batch finishing thousands of jobs a second
is drawn four times a second, not thousands)."""


def _job_key(context: dict[str, Any]) -> str:
    job = context["job"]
    return f"{job['status']}.{job['attempts']}.{job['updated_at']}"


def _batch_key(context: dict[str, Any]) -> str:
    batch = context["batch"]
    counts = batch["counts"]
    done = batch["completed_at"] is not None
    return f"{counts['succeeded']}.{counts['failed']}.{counts['running']}.{int(done)}"


def _live(
    request: Request,
    platform: Platform,
    channel: str,
    template: str,
    key_of: Callable[[dict[str, Any]], str],
    context_of: Callable[[], dict[str, Any]],
) -> Response:
    """A page's live updates: ``template`` rendered again whenever ``key_of`` its context
    changes, woken by ``channel``."""

    def fetch(cursor: str | None) -> tuple[list[ServerEvent], str | None]:
        context = context_of()
        key = key_of(context)
        if key == cursor:
            return [], cursor
        html = render_text(request, template, context)
        return [ServerEvent({"html": html}, "html", key)], key

    return event_stream(
        request, fetch, nudges=platform.core.nudges, channels=[channel],
        min_gap=_LIVE_GAP, max_seconds=platform.settings.live_max_seconds,
    )  # fmt: skip


def jobs_pages_router() -> APIRouter:
    """Routes of the job, batch and retry pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/jobs")
    def jobs_page(
        request: Request,
        jobs: Jobs,
        status: str | None = None,
        kind: str | None = None,
        batch: str | None = None,
        cursor: str | None = None,
    ) -> Response:
        filters = {
            "status": query_filter(status, "status"),
            "kind": query_filter(kind, "kind"),
            "batch": query_filter(batch, "batch"),
        }
        if filters["status"] is not None and filters["status"] not in JOB_STATUSES:
            raise InvalidInput(
                f"unknown status {filters['status']!r}; choose one of {', '.join(JOB_STATUSES)}"
            )
        page = jobs.list(
            status=filters["status"],
            kind=filters["kind"],
            batch=filters["batch"],
            cursor=query_filter(cursor, "cursor"),
            limit=PAGE_SIZE,
        ).for_reader(may_read(request, WEBHOOKS_SCOPE))
        context = {
            "page": page_view(page),
            "filters": {k: v or "" for k, v in filters.items()},
            "statuses": JOB_STATUSES,
        }
        if is_htmx(request) and cursor:
            return render(request, "_job_rows.html", context)
        return render(request, "jobs.html", context)

    @router.get("/jobs/{job_id}")
    def job_page(request: Request, jobs: Jobs, job_id: str) -> Response:
        return render(request, "job.html", _job_context(request, jobs, job_id, None))

    @router.post("/jobs/{job_id}/retry")
    async def retry_job(request: Request, jobs: Jobs, job_id: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        await run_in_threadpool(jobs.retry, job_id, actor.name)
        if not is_htmx(request):
            return RedirectResponse(f"/jobs/{job_id}", status_code=303)
        flash = {"kind": "ok", "text": translator(request)("job.retried")}
        context = await run_in_threadpool(_job_context, request, jobs, job_id, flash)
        return render(request, "_job_body.html", context)

    @router.get("/jobs/{job_id}/events")
    def job_events(request: Request, platform: PlatformDep, job_id: str) -> Response:
        """The job page's live updates: its body again whenever the job changes."""
        platform.jobs.get(job_id)  # 404 now, not inside the stream
        return _live(
            request, platform, f"job:{job_id}", "_job_live.html", _job_key,
            lambda: _job_context(request, platform.jobs, job_id, None),
        )  # fmt: skip

    @router.get("/batches/{batch_id}/events")
    def batch_events(request: Request, platform: PlatformDep, batch_id: str) -> Response:
        """The batch page's live updates: progress, counts and jobs as they change."""
        platform.jobs.get_batch(batch_id)  # 404 now, not inside the stream
        return _live(
            request, platform, f"batch:{batch_id}", "_batch_live.html", _batch_key,
            lambda: _batch_context(request, platform.jobs, batch_id, None),
        )  # fmt: skip

    @router.get("/batches/{batch_id}")
    def batch_page(request: Request, jobs: Jobs, batch_id: str) -> Response:
        return render(request, "batch.html", _batch_context(request, jobs, batch_id, None))

    @router.post("/batches/{batch_id}/retry-failed")
    async def retry_batch(request: Request, jobs: Jobs, batch_id: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        count = await run_in_threadpool(jobs.retry_failed, batch_id, actor.name)
        if not is_htmx(request):
            return RedirectResponse(f"/batches/{batch_id}", status_code=303)
        flash = {"kind": "ok", "text": translator(request)("batch.retried", n=count)}
        context = await run_in_threadpool(_batch_context, request, jobs, batch_id, flash)
        return render(request, "_batch_body.html", context)

    return router
