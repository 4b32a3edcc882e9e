"""Accepting a job: from the request body to the row to store, off the event loop when large.

Validation, page counting, planning and rendering the plan are CPU work in proportion to
the request: about 30 µs per recipient, 90 ms for a job of 3,000 recipients. Run on the
event loop, a job of 300,000 recipients once froze every other request for 20 s. A body
over :data:`INLINE_BODY_BYTES` is therefore prepared in a worker thread; the loop gets the
GIL back at least every switch interval (5 ms), apart from single C calls such as the JSON
parse (about 20 ms per MB of recipients). Small jobs stay inline: the thread hop costs more
than their preparation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from faxpush.core.push_body import account_push_target
from faxpush.core.settings import Settings
from faxpush.core.targets import Account
from faxpush.emulator.auth import Caller
from faxpush.emulator.config import SimulatorConfig
from faxpush.emulator.dedup import dedup_key
from faxpush.emulator.offload import HeavyWork
from faxpush.emulator.plan import PageCount, count_job_pages, new_job_id, plan_job
from faxpush.emulator.pushes import check_push_size, job_push_target
from faxpush.emulator.times import parse_timestamp
from faxpush.emulator.validation import FaxJobRequest, parse_job_request
from faxpush.storage.jobs_base import NewJob

INLINE_BODY_BYTES: Final = 8 * 1024
"""Larger bodies are prepared in a worker thread (the bench job, one recipient and a small
PDF, is 1 KB; 8 KB holds at most about 450 recipients, 12 ms of work)."""
PUSH_BYTES_PER_BODY_BYTE: Final = 25
"""How much larger than its request a push can grow in the XML and JSON layouts: a minimal
recipient, 17 bytes of JSON, becomes about 320 bytes of XML."""
PUSH_OVERHEAD_BYTES: Final = 4096

AccountLoader = Callable[[], Awaitable[Account | None]]


@dataclass(frozen=True, slots=True)
class JobContext:
    """Who sends a job and when, and the settings that bound and plan it."""

    caller: Caller
    now: datetime
    settings: Settings
    sim: SimulatorConfig


@dataclass(frozen=True, slots=True)
class AcceptedJob:
    """A valid, planned job ready to be stored."""

    job: NewJob
    pages: PageCount


def push_may_exceed(body_bytes: int, max_push_bytes: int) -> bool:
    """Whether a job of ``body_bytes`` could render a push over ``max_push_bytes``."""
    return body_bytes * PUSH_BYTES_PER_BODY_BYTE + PUSH_OVERHEAD_BYTES > max_push_bytes


def plan_request(
    request: FaxJobRequest, context: JobContext, account: Account | None
) -> AcceptedJob:
    """Plan a valid job; :class:`JobRequestError` when its push would be too large.

    When the push target is known now (the job's own, or the account's default), the push
    is rendered from the planned final report and refused if over ``max_push_bytes``."""
    caller, now, settings = context.caller, context.now, context.settings
    target = job_push_target(request.push, account)
    pages = count_job_pages(request)
    job_id = new_job_id()
    plan = plan_job(
        request, job_id=job_id, now=now, pages=pages, sim=context.sim, speed=settings.sim_speed
    )
    if (target or account_push_target(account)) is not None:
        check_push_size(plan.report, account, settings.max_push_bytes)
    options = request.statusReportOptions
    purge_text = options.reportPurgeTs if options is not None else None
    job = NewJob(
        job_id=job_id,
        customer_number=caller.customer_number,
        login=caller.login,
        plan=plan.to_json(),
        finish_at=plan.finish_at,
        push_target=target,
        dedup_key=dedup_key(request, customer_number=caller.customer_number, login=caller.login),
        purge_at=None if purge_text is None else parse_timestamp(purge_text),
    )
    return AcceptedJob(job, pages)


def prepare_job(body: bytes, context: JobContext, account: Account | None) -> AcceptedJob:
    """Validate and plan the job in ``body``; :class:`JobRequestError` says what is wrong."""
    return plan_request(_parse(body, context), context, account)


def _parse(body: bytes, context: JobContext) -> FaxJobRequest:
    limit = context.settings.max_recipients
    return parse_job_request(body, now=context.now, max_recipients=limit)


async def accept_job(
    body: bytes, context: JobContext, *, load_account: AccountLoader, heavy: HeavyWork
) -> AcceptedJob:
    """:func:`prepare_job`, in a worker thread when ``body`` is over INLINE_BODY_BYTES.

    The account is read only when it matters: for the job's own push (its OAuth2 token URL,
    the push format) or when the push could outgrow ``max_push_bytes``. Reading it for
    every job put a database round trip, queued behind group commits, on the common path."""
    if len(body) > INLINE_BODY_BYTES:
        return await heavy.run(prepare_job, body, context, await load_account())
    request = _parse(body, context)
    max_push_bytes = context.settings.max_push_bytes
    needs_account = request.push is not None or push_may_exceed(len(body), max_push_bytes)
    account = await load_account() if needs_account else None
    return plan_request(request, context, account)


__all__ = [
    "INLINE_BODY_BYTES",
    "AcceptedJob",
    "JobContext",
    "accept_job",
    "plan_request",
    "prepare_job",
    "push_may_exceed",
]
