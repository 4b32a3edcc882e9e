"""Small builders shared by the contract tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from faxpush.core.models import AuthMethod
from faxpush.core.secrets import Secret
from faxpush.core.targets import ClientAuthStyle, PushTarget
from faxpush.storage.base import AttemptRecord, AttemptResult, ClaimedPush, NewPush, Store, Verdict

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SOON = NOW + timedelta(seconds=1)  # after everything enqueue_many creates
LEASE = timedelta(seconds=30)
PASSWORD = "pa55-Wörd-plaintext-7f3a"  # distinctive, so it can be searched for in files


def new_push(
    delivery_id: str,
    *,
    not_before: datetime | None = None,
    credentials: str | None = PASSWORD,
    body: bytes = b"<faxJobReport/>",
    url: str = "https://push.example.test/hook",
) -> NewPush:
    return NewPush(
        delivery_id=delivery_id,
        job_id=f"job-{delivery_id}",
        target=PushTarget(
            url=url,
            auth_method=AuthMethod.OAUTH2,
            principal="client-1",
            credentials=None if credentials is None else Secret(credentials),
            token_url="https://auth.example.test/token",
            client_auth=ClientAuthStyle.CLIENT_SECRET_POST,
        ),
        content_type="application/xml",
        body=body,
        customer_number="4711",
        retry_client_errors=True,
        max_attempts=7,
        not_before=not_before,
    )


def attempt(
    delivery_id: str,
    *,
    number: int = 1,
    http_status: int | None = 200,
    body: bytes = b"ok",
    headers: Mapping[str, str] | None = None,
    error_class: str | None = None,
) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=delivery_id,
        number=number,
        started_at=NOW,
        duration_ms=12.5,
        http_status=http_status,
        error_class=error_class,
        error_message=None if error_class is None else f"{error_class} happened",
        response_headers={"Content-Type": "text/plain"} if headers is None else headers,
        response_body=body,
        auth_steps=("token request", "bearer"),
    )


def result(
    claim: ClaimedPush,
    verdict: Verdict = Verdict.DELIVERED,
    *,
    next_attempt_at: datetime | None = None,
    error: str | None = None,
    claim_id: str | None = None,
) -> AttemptResult:
    delivery_id = claim.push.delivery_id
    return AttemptResult(
        delivery_id=delivery_id,
        claim_id=claim.claim_id if claim_id is None else claim_id,
        attempt=attempt(delivery_id, number=claim.push.attempts + 1),
        verdict=verdict,
        next_attempt_at=next_attempt_at,
        error=error,
    )


async def enqueue_many(store: Store, count: int, *, prefix: str = "d") -> list[str]:
    """Enqueue ``count`` pushes created one microsecond apart; return their ids in order."""
    ids = [f"{prefix}{n:04d}" for n in range(count)]
    for n, delivery_id in enumerate(ids):
        await store.enqueue(new_push(delivery_id), now=NOW + timedelta(microseconds=n))
    return ids


async def deliver_all(
    store: Store, total: int, *, limit: int, rounds: int, renew: bool = False
) -> int:
    """Claim and finish pushes as delivered, while other tasks enqueue them, until ``total``
    are done or ``rounds`` rounds are spent; returns how many were finished. ``renew`` also
    renews one lease per round."""
    finished = 0
    for _ in range(rounds):
        claims = await store.claim(worker_id="w", limit=limit, lease=LEASE, now=SOON)
        if claims:
            if renew:
                lease = [(c.push.delivery_id, c.claim_id) for c in claims[:1]]
                await store.renew(lease, lease=LEASE, now=SOON)
            await store.finish([result(c, Verdict.DELIVERED) for c in claims], now=SOON)
            finished += len(claims)
        if finished >= total:
            break
        await asyncio.sleep(0.001)
    return finished


async def claim_all(
    store: Store, *, worker_id: str = "w1", now: datetime = SOON
) -> list[ClaimedPush]:
    return await store.claim(worker_id=worker_id, limit=1000, lease=LEASE, now=now)
