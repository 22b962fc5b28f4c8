"""Job pages: the filtered job list, a job's detail and history, a batch's progress, and
the retry actions (htmx posts answered with the refreshed fragment)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from nunchi.errors import InvalidInput, StoreError
from nunchi.web.pages.rendering import is_htmx, query_filter, render, translator
from nunchi.web.pages.security import check_csrf, page_actor
from nunchi.web.pages.views import JOB_STATUSES, batch_view, job_view, page_view
from nunchi.web.pages.webhooks import subject_deliveries

__all__ = ["PAGE_SIZE", "jobs_pages_router"]

PAGE_SIZE = 50


def _jobs(request: Request) -> Any:
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise StoreError("the jobs service is not configured in this process")
    return jobs


def jobs_pages_router() -> APIRouter:
    """Routes of the job, batch and retry pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home() -> Response:
        return RedirectResponse("/jobs", status_code=302)

    @router.get("/jobs")
    def jobs_page(
        request: Request,
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
        page = _jobs(request).list(
            status=filters["status"],
            kind=filters["kind"],
            batch=filters["batch"],
            cursor=query_filter(cursor, "cursor"),
            limit=PAGE_SIZE,
        )
        context = {
            "page": page_view(page),
            "filters": {k: v or "" for k, v in filters.items()},
            "statuses": JOB_STATUSES,
        }
        if is_htmx(request) and cursor:
            return render(request, "_job_rows.html", context)
        return render(request, "jobs.html", context)

    @router.get("/jobs/{job_id}")
    def job_page(request: Request, job_id: str) -> Response:
        job = job_view(_jobs(request).get(job_id))
        webhooks = subject_deliveries(request, job["id"], job["callback_url"])
        return render(request, "job.html", {"job": job, "webhooks": webhooks, "flash": None})

    @router.post("/jobs/{job_id}/retry")
    async def retry_job(request: Request, job_id: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        service = _jobs(request)
        await run_in_threadpool(service.retry, job_id, actor.name)
        if not is_htmx(request):
            return RedirectResponse(f"/jobs/{job_id}", status_code=303)
        job = job_view(await run_in_threadpool(service.get, job_id))
        webhooks = await run_in_threadpool(
            subject_deliveries, request, job["id"], job["callback_url"]
        )
        flash = {"kind": "ok", "text": translator(request)("job.retried")}
        context = {"job": job, "webhooks": webhooks, "flash": flash}
        return render(request, "_job_body.html", context)

    @router.get("/batches/{batch_id}")
    def batch_page(request: Request, batch_id: str) -> Response:
        service = _jobs(request)
        batch = batch_view(service.get_batch(batch_id))
        page = page_view(service.list(batch=batch_id, limit=PAGE_SIZE))
        webhooks = subject_deliveries(request, batch["id"], batch["callback_url"])
        context = {"batch": batch, "page": page, "webhooks": webhooks, "flash": None}
        return render(request, "batch.html", context)

    @router.post("/batches/{batch_id}/retry-failed")
    async def retry_batch(request: Request, batch_id: str) -> Response:
        await check_csrf(request)
        actor = page_actor(request)
        service = _jobs(request)
        retried = await run_in_threadpool(service.retry_failed, batch_id, actor.name)
        if not is_htmx(request):
            return RedirectResponse(f"/batches/{batch_id}", status_code=303)
        batch = batch_view(await run_in_threadpool(service.get_batch, batch_id))
        page = page_view(
            await run_in_threadpool(lambda: service.list(batch=batch_id, limit=PAGE_SIZE))
        )
        webhooks = await run_in_threadpool(
            subject_deliveries, request, batch["id"], batch["callback_url"]
        )
        count = getattr(retried, "retried", retried)  # an int, or a RetriedCount
        flash = {"kind": "ok", "text": translator(request)("batch.retried", n=count)}
        context = {"batch": batch, "page": page, "webhooks": webhooks, "flash": flash}
        return render(request, "_batch_body.html", context)

    return router
