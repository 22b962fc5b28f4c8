"""Template-ready views of what the services return (jobs, batches, stage stats, counts).

Templates render with strict undefined names, so every view has every key a template
reads; services' pydantic models, dataclasses and mappings are all accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nunchi.jobs.models import EVENT_TYPES, JOB_STATUSES
from nunchi.web.pages.rendering import plain
from nunchi.webhooks.models import DELIVERY_STATUSES

__all__ = [
    "DELIVERY_STATUSES",
    "EVENT_TYPES",
    "JOB_STATUSES",
    "batch_view",
    "count_table",
    "delivery_view",
    "job_view",
    "page_view",
    "stage_rows",
]

_STAGE_FIELDS = ("processed", "failed", "retried", "dead_lettered", "in_flight", "lag")


def _error_view(error: Any) -> dict[str, Any] | None:
    if not isinstance(error, Mapping):
        return None
    return {
        "type": str(error.get("type") or error.get("error_type") or ""),
        "message": str(error.get("message") or error.get("error_message") or ""),
        "traceback": str(error.get("traceback") or ""),
    }


def _event_view(event: Any) -> dict[str, Any]:
    e = plain(event)
    detail = e.get("detail")
    err = _error_view(detail) if isinstance(detail, Mapping) else None
    if err is not None and not (err["type"] or err["message"]):
        err = None
    shown_detail = None
    if detail not in (None, {}, []) and err is None:
        shown_detail = detail
    return {
        "id": e.get("id"),
        "at": e.get("at"),
        "type": str(e.get("type", "")),
        "attempt": e.get("attempt") or 0,
        "actor": e.get("actor"),
        "error": err,
        "detail": shown_detail,
    }


def job_view(job: Any) -> dict[str, Any]:
    """A job (``JobOut``/``JobDetail`` or a mapping) for the templates."""
    d = plain(job)
    if isinstance(d.get("job"), Mapping):  # a {"job": ..., "events": ...} shape
        d = {**d["job"], "events": d.get("events", [])}
    return {
        "id": str(d.get("id", "")),
        "kind": str(d.get("kind", "")),
        "status": str(d.get("status", "")),
        "input": d.get("input"),
        "result": d.get("result"),
        "error": _error_view(d.get("error")),
        "attempts": d.get("attempts") or 0,
        "batch_id": d.get("batch_id"),
        "callback_url": d.get("callback_url"),
        "created_at": d.get("created_at"),
        "started_at": d.get("started_at"),
        "finished_at": d.get("finished_at"),
        "updated_at": d.get("updated_at"),
        "events": [_event_view(e) for e in d.get("events") or []],
    }


def page_view(page: Any, item: Callable[[Any], dict[str, Any]] = job_view) -> dict[str, Any]:
    """A page of jobs (or with ``item=delivery_view``, of deliveries): ``items`` (views made
    by ``item``) and ``next_cursor``."""
    d = page if isinstance(page, Mapping) else {
        "items": getattr(page, "items", []), "next_cursor": getattr(page, "next_cursor", None),
    }  # fmt: skip
    return {
        "items": [item(i) for i in d.get("items") or []],
        "next_cursor": d.get("next_cursor"),
    }


def batch_view(batch: Any) -> dict[str, Any]:
    """A batch with its counts by status (every status present) and progress."""
    d = plain(batch)
    raw = d.get("counts") or {}
    counts = {s: int(raw.get(s) or 0) for s in JOB_STATUSES}
    total = int(d.get("total") or sum(counts.values()))
    done = counts["succeeded"] + counts["failed"]
    return {
        "id": str(d.get("id", "")),
        "kind": str(d.get("kind", "")),
        "total": total,
        "counts": counts,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "callback_url": d.get("callback_url"),
        "created_at": d.get("created_at"),
        "completed_at": d.get("completed_at"),
    }


def stage_rows(stats: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per stage (sorted by name) from a worker's ``stats()``."""
    rows = []
    for name in sorted(stats or {}):
        s = plain(stats[name]) if stats is not None else {}
        if not isinstance(s, Mapping):
            s = {}
        row: dict[str, Any] = {"name": name}
        for f in _STAGE_FIELDS:
            row[f] = s.get(f)
        row["last_error"] = s.get("last_error")
        rows.append(row)
    return rows


def _flatten_counts(counts: Any) -> dict[tuple[str, str], int]:
    """``(kind, status) -> n`` from the shapes a counts report may take."""
    out: dict[tuple[str, str], int] = {}
    data = plain(counts)
    if isinstance(data, Mapping):
        for key in ("by_kind", "by_kind_status", "kinds", "counts"):
            if isinstance(data.get(key), Mapping | list):
                return _flatten_counts(data[key])
        for key, value in data.items():
            if isinstance(value, Mapping):
                for status, n in value.items():
                    if isinstance(n, int):
                        out[(str(key), str(status))] = out.get((str(key), str(status)), 0) + n
            elif isinstance(key, tuple) and len(key) == 2 and isinstance(value, int):
                out[(str(key[0]), str(key[1]))] = value
    elif isinstance(data, list):
        for row in data:
            if isinstance(row, Mapping) and "kind" in row and "status" in row:
                n = row.get("count", row.get("n", 0))
                out[(str(row["kind"]), str(row["status"]))] = int(n or 0)
    return out


def count_table(counts: Any) -> dict[str, Any]:
    """Job counts as a table: ``statuses`` (columns), ``rows`` (kind, counts, total) and
    ``totals`` per status."""
    flat = _flatten_counts(counts)
    statuses = list(JOB_STATUSES) + sorted({s for _, s in flat} - set(JOB_STATUSES))
    kinds = sorted({k for k, _ in flat})
    rows = []
    totals = dict.fromkeys(statuses, 0)
    for kind in kinds:
        by_status = {s: flat.get((kind, s), 0) for s in statuses}
        for s, n in by_status.items():
            totals[s] += n
        rows.append({"kind": kind, "counts": by_status, "total": sum(by_status.values())})
    return {"statuses": statuses, "rows": rows, "totals": totals, "total": sum(totals.values())}


def _attempt_view(attempt: Any) -> dict[str, Any]:
    a = plain(attempt)
    return {
        "attempt_no": a.get("attempt_no") or 0,
        "at": a.get("at"),
        "status_code": a.get("status_code"),
        "error": a.get("error"),
        "duration_ms": a.get("duration_ms"),
        "response_excerpt": a.get("response_excerpt"),
        "trigger": str(a.get("trigger") or "auto"),
        "actor": a.get("actor"),
    }


def _subject_url(event_type: str, subject_id: Any) -> str | None:
    """The page of the job or batch an event is about (None when unknown)."""
    if not subject_id:
        return None
    if event_type.startswith("job."):
        return f"/jobs/{subject_id}"
    if event_type.startswith("batch."):
        return f"/batches/{subject_id}"
    return None


def delivery_view(delivery: Any) -> dict[str, Any]:
    """A webhook delivery (``DeliveryInfo``/``DeliveryDetail`` or a mapping); ``payload`` and
    ``history`` are None/empty for a list item."""
    d = plain(delivery)
    event_type = str(d.get("type", ""))
    return {
        "id": str(d.get("id", "")),
        "event_id": str(d.get("event_id", "")),
        "type": event_type,
        "url": str(d.get("url", "")),
        "subject_id": d.get("subject_id"),
        "subject_url": _subject_url(event_type, d.get("subject_id")),
        "status": str(d.get("status", "")),
        "attempts": d.get("attempts") or 0,
        "next_attempt_at": d.get("next_attempt_at"),
        "last_status_code": d.get("last_status_code"),
        "last_error": d.get("last_error"),
        "created_at": d.get("created_at"),
        "delivered_at": d.get("delivered_at"),
        "payload": d.get("payload"),
        "history": [_attempt_view(a) for a in d.get("history") or []],
    }
