"""The console's pages. Each one asks the store only indexed questions (a page of pushes,
one push and its attempts, the receivers' counters, the accounts), so that it stays fast
at millions of pushes; nothing counts every push."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from faxpush.console.app import ConsoleServices, PageError, base_path, render
from faxpush.console.charts import outcome_bars, series_chart
from faxpush.console.queries import (
    PAGE_SIZE,
    age_text,
    decode_cursor,
    encode_cursor,
    most_failing,
    push_filter,
    totals,
)
from faxpush.console.security import Session
from faxpush.core.errors import FaxpushError
from faxpush.core.formats import parse_report
from faxpush.core.urls import display_url
from faxpush.storage.base import PushRecord, PushState, receiver_key
from faxpush.storage.jobs_base import JobRecord
from faxpush.storage.json_views import BODY_EXCERPT_BYTES, oldest_pending_age, timestamp

REQUEUEABLE = (PushState.FAILED, PushState.DELIVERED, PushState.CANCELLED)
JOBS_PAGE = 30
# A push redelivered again and again can have thousands of attempts; the page shows the
# newest (the page of a push with 4,000 took 150 ms) and says where to find the rest.
TIMELINE_ATTEMPTS = 100


def _page(
    services: ConsoleServices,
    request: Request,
    session: Session,
    template: str,
    context: dict[str, Any],
) -> Response:
    return render(request, template, context, session=session, services=services)


def _since(now: datetime, when: datetime | None) -> str:
    return "-" if when is None else age_text(max((now - when).total_seconds(), 0.0))


async def overview(services: ConsoleServices, request: Request, session: Session) -> Response:
    now = services.clock()
    rows = await services.store.receiver_stats(now=now)
    summed = totals(rows)
    points = await services.store.attempt_series(since=now - timedelta(days=1), now=now)
    over_time = series_chart(points, now=now, span=timedelta(days=1))
    context = {
        "over_time": over_time,
        "title": "Overview",
        "totals": summed,
        "oldest_age": _since(now, summed.oldest_pending_at),
        "day_chart": outcome_bars(rows, day=True),
        "hour_chart": outcome_bars(rows, day=False),
        "failing": most_failing(rows),
        "timestamp": timestamp,
    }
    return _page(services, request, session, "overview.html", context)


def _push_row(push: PushRecord) -> dict[str, Any]:
    return {
        "id": push.delivery_id,
        "job_id": push.job_id,
        "customer": push.customer_number,
        "state": push.state.value,
        "attempts": push.attempts,
        "receiver": receiver_key(push.target.url),
        "created": timestamp(push.created_at),
        "next": timestamp(push.next_attempt_at) if push.state is PushState.PENDING else None,
        "last_error": push.last_error,
    }


async def pushes(services: ConsoleServices, request: Request, session: Session) -> Response:
    params = request.query_params
    form = {name: params.get(name, "") for name in ("state", "jobId", "receiver", "since")}
    where = push_filter({name: value for name, value in form.items() if value.strip()})
    cursor = params.get("cursor")
    before = decode_cursor(cursor) if cursor else None
    found = await services.store.find_pushes(where, limit=PAGE_SIZE + 1, before=before)
    page = found[:PAGE_SIZE]
    filters = {name: value for name, value in form.items() if value}
    next_query = (
        urlencode({**filters, "cursor": encode_cursor(page[-1])})
        if len(found) > PAGE_SIZE
        else None
    )
    context = {
        "title": "Pushes",
        "form": form,
        "states": [state.value for state in PushState],
        "rows": [_push_row(push) for push in page],
        "next_query": next_query,
        "first_query": urlencode(filters),
        "paged": before is not None,
        "live_query": urlencode({**filters, "fragment": "rows"}),
    }
    template = "push_rows.html" if params.get("fragment") == "rows" else "pushes.html"
    return _page(services, request, session, template, context)


def _report_fields(push: PushRecord) -> Any:
    try:
        return parse_report(push.body)
    except (FaxpushError, ValueError):
        return None


async def push(services: ConsoleServices, request: Request, session: Session) -> Response:
    delivery_id = request.path_params["deliveryId"]
    record = await services.store.get_push(delivery_id)
    if record is None:
        raise PageError(404, f"no push with delivery id {delivery_id!r}")
    attempts = await services.store.list_attempts(delivery_id)
    shown = attempts[-TIMELINE_ATTEMPTS:]
    timeline = [
        {
            "number": a.number,
            "started": timestamp(a.started_at),
            "duration_ms": round(a.duration_ms, 1),
            "status": a.http_status,
            "error_class": a.error_class,
            "error": a.error_message,
            "headers": sorted(a.response_headers.items()),
            "body": a.response_body[:BODY_EXCERPT_BYTES].decode("utf-8", errors="replace"),
            "truncated": len(a.response_body) > BODY_EXCERPT_BYTES,
            "auth_steps": list(a.auth_steps),
        }
        for a in reversed(shown)
    ]
    target = record.target
    context = {
        "title": f"Push {delivery_id}",
        "push": _push_row(record),
        "target_url": display_url(target.url),
        "auth_method": target.auth_method.value,
        "principal": target.principal,
        "has_credentials": target.credentials is not None,
        "content_type": record.content_type,
        "max_attempts": record.max_attempts,
        "body": record.body.decode("utf-8", errors="replace"),
        "report": _report_fields(record),
        "attempts": timeline,
        "attempts_hidden": len(attempts) - len(shown),
        "can_redeliver": record.state in REQUEUEABLE,
        "can_cancel": record.state is PushState.PENDING,
        "done": request.query_params.get("done"),
    }
    template = "push_live.html" if request.query_params.get("fragment") == "live" else "push.html"
    return _page(services, request, session, template, context)


def _back_to(request: Request, delivery_id: str, done: str) -> Response:
    return RedirectResponse(
        f"{base_path(request)}/pushes/{delivery_id}?done={done}", status_code=303
    )


async def redeliver(services: ConsoleServices, request: Request, _session: Session) -> Response:
    delivery_id = request.path_params["deliveryId"]
    record = await services.store.get_push(delivery_id)
    if record is None:
        raise PageError(404, f"no push with delivery id {delivery_id!r}")
    if record.state not in REQUEUEABLE:
        raise PageError(409, f"the push is {record.state.value}: it will be sent anyway")
    await services.store.redeliver(delivery_ids=[delivery_id], now=services.clock())
    services.on_enqueue(0)
    return _back_to(request, delivery_id, "redelivered")


async def cancel(services: ConsoleServices, request: Request, _session: Session) -> Response:
    delivery_id = request.path_params["deliveryId"]
    cancelled = await services.store.cancel([delivery_id], now=services.clock())
    if delivery_id not in cancelled:
        record = await services.store.get_push(delivery_id)
        if record is None:
            raise PageError(404, f"no push with delivery id {delivery_id!r}")
        raise PageError(
            409, f"only a pending push can be cancelled; this one is {record.state.value}"
        )
    return _back_to(request, delivery_id, "cancelled")


def _bucket_bound(duration_ms: float | None) -> str:
    # the counters keep a duration histogram, so a percentile is the upper bound of the
    # bucket it falls in, not a measured duration
    return "-" if duration_ms is None else f"≤ {duration_ms:g}"


async def receivers(services: ConsoleServices, request: Request, session: Session) -> Response:
    now = services.clock()
    rows = await services.store.receiver_stats(now=now)
    table = [
        {
            "receiver": row.receiver,
            "link": urlencode({"receiver": row.receiver}),
            "failed_link": urlencode({"receiver": row.receiver, "state": "failed"}),
            "hour": f"{row.successes_hour}/{row.attempts_hour}",
            "day": f"{row.successes_day}/{row.attempts_day}",
            "p50": _bucket_bound(row.duration_p50_ms),
            "p99": _bucket_bound(row.duration_p99_ms),
            "pending": row.pending,
            "oldest": age_text(oldest_pending_age(row, now)),
            "consecutive": row.consecutive_failures,
            "last_error": row.last_error,
            "last_error_at": timestamp(row.last_error_at),
        }
        for row in rows
    ]
    return _page(
        services, request, session, "receivers.html", {"title": "Receivers", "rows": table}
    )


def _job_row(job: JobRecord, push_ids: list[str]) -> dict[str, Any]:
    recipients = job.report.faxRecipients if job.report is not None else ()
    return {
        "job_id": job.job_id,
        "customer": job.customer_number,
        "state": job.state.value,
        "created": timestamp(job.created_at),
        "recipients": recipients,
        "pushes": push_ids,
    }


async def jobs(services: ConsoleServices, request: Request, session: Session) -> Response:
    """The jobs of the newest pushes (or of one job id), with their recipients' status."""
    store, job_store = services.store, services.jobs
    if job_store is None:
        raise PageError(404, "no job store here")
    job_id = request.query_params.get("jobId", "").strip()
    where = push_filter({"jobId": job_id})
    found = await store.find_pushes(where, limit=JOBS_PAGE)
    pushes_of: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record in found:
        if record.customer_number is not None:
            pushes_of[(record.customer_number, record.job_id)].append(record.delivery_id)
    by_customer: dict[str, list[str]] = defaultdict(list)
    for customer, wanted in pushes_of:
        by_customer[customer].append(wanted)
    rows = []
    for customer, job_ids in by_customer.items():
        for job in await job_store.get_jobs(customer, job_ids):
            rows.append(_job_row(job, pushes_of[(customer, job.job_id)]))
    rows.sort(key=lambda row: row["created"] or "", reverse=True)
    context = {"title": "Jobs", "rows": rows, "job_id": job_id}
    return _page(services, request, session, "jobs.html", context)


async def accounts(services: ConsoleServices, request: Request, session: Session) -> Response:
    rows = [
        {
            "customer": account.customer_number,
            "format": account.push_format.value,
            "url": display_url(account.push_url) if account.push_url else None,
            "auth": account.push_auth.value,
            "principal": account.push_principal,
            "credentials": account.push_credentials is not None,
            "client_cert": account.push_client_cert is not None,
            "retry_client_errors": account.retry_client_errors,
        }
        for account in await services.store.list_accounts()
    ]
    return _page(services, request, session, "accounts.html", {"title": "Accounts", "rows": rows})


__all__ = [
    "accounts",
    "cancel",
    "jobs",
    "overview",
    "push",
    "pushes",
    "receivers",
    "redeliver",
]
