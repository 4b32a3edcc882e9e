"""Queries and actions of the operator API through real HTTP on a SQLite file: keyset pages
and filters, one push with its attempts (credentials never shown), a job's attempts, cancel,
redeliver (one and by filter), the receivers table, OpenAPI and the health routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from faxpush.core.models import AuthMethod
from faxpush.storage.base import AttemptRecord, AttemptResult, Verdict, receiver_key

from .harness import Admin, json_report

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "query-Secret-5e1b"


async def _ingest(admin: Admin, job_id: str, url: str = "https://q.example.test/in") -> str:
    document = json.loads(json_report(job_id, url=url, auth=AuthMethod.HTTP_BASIC))
    document["httpStatusPush"] |= {"principal": "qa", "credentials": SECRET}
    status, body, _ = await admin.call("POST", "/api/v1/pushes", json_body=document)
    assert status == 202, body
    delivery_id: str = body["deliveryId"]
    return delivery_id


async def _attempt(admin: Admin, delivery_id: str, *, status: int, verdict: Verdict) -> None:
    """Claim the push and record one attempt on it, as a worker does (every other push the
    claim took goes back)."""
    now = datetime.now(UTC)
    claimed = await admin.store.claim(
        worker_id="test", limit=1000, lease=timedelta(seconds=30), now=now
    )
    mine = [c for c in claimed if c.push.delivery_id == delivery_id]
    others = [(c.push.delivery_id, c.claim_id) for c in claimed if c not in mine]
    if others:
        await admin.store.release(others, now=now)
    assert len(mine) == 1
    push = mine[0].push
    attempt = AttemptRecord(
        delivery_id=delivery_id,
        number=push.attempts + 1,
        started_at=now,
        duration_ms=12.5,
        http_status=status,
        error_class=None if status < 400 else "http_status",
        error_message=None if status < 400 else f"HTTP {status}",
        response_headers={"Content-Type": "text/plain", "X-Trace": "t-1"},
        response_body=b"thanks" if status < 400 else b"nope",
        auth_steps=("basic",),
    )
    await admin.store.finish(
        [
            AttemptResult(
                delivery_id=delivery_id,
                claim_id=mine[0].claim_id,
                attempt=attempt,
                verdict=verdict,
                next_attempt_at=now + timedelta(hours=1) if verdict is Verdict.RETRY else None,
                error=None if verdict is Verdict.DELIVERED else f"HTTP {status}",
                receiver=receiver_key(push.target.url),
            )
        ],
        now=now,
    )


async def test_pages_are_newest_first_and_cover_everything_once(admin: Admin) -> None:
    ids = [await _ingest(admin, "page-job") for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"jobId": "page-job", "limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page, _ = await admin.call("GET", "/api/v1/pushes", params=params)
        assert status == 200
        seen += [p["deliveryId"] for p in page["pushes"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5
    status, page, _ = await admin.call("GET", "/api/v1/pushes", params={"jobId": "page-job"})
    created = [p["createdAt"] for p in page["pushes"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"since": "yesterday"}, "since"),
        ({"receiver": "q.example.test"}, "receiver"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
    ],
)
async def test_bad_query_parameters_name_the_field(
    admin: Admin, params: dict[str, str], field: str
) -> None:
    status, body, _ = await admin.call("GET", "/api/v1/pushes", params=params)
    assert (status, body["field"]) == (400, field)


async def test_filters_by_state_receiver_and_since(admin: Admin) -> None:
    wanted = await _ingest(admin, "filter-job", url="https://filter.example.test:8443/x")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    checks: list[tuple[dict[str, str], bool]] = [
        ({"receiver": "https://filter.example.test:8443", "state": "pending"}, True),
        ({"receiver": "https://filter.example.test:8443", "state": "failed"}, False),
        ({"receiver": "https://filter.example.test:8443", "since": future}, False),
        ({"receiver": "https://filter.example.test"}, False),  # :443 is another origin
    ]
    for params, found in checks:
        status, page, _ = await admin.call("GET", "/api/v1/pushes", params=params)
        assert status == 200
        assert (wanted in [p["deliveryId"] for p in page["pushes"]]) is found, params


async def test_one_push_with_its_attempts_and_the_job_attempts(admin: Admin) -> None:
    delivery_id = await _ingest(admin, "attempt-job", url="https://attempt.example.test/in")
    await _attempt(admin, delivery_id, status=503, verdict=Verdict.RETRY)
    status, push, _ = await admin.call("GET", f"/api/v1/pushes/{delivery_id}")
    assert status == 200
    [attempt] = push["attemptList"]
    assert attempt["httpStatus"] == 503
    assert attempt["durationMs"] == 12.5
    assert attempt["error"] == "HTTP 503"
    assert attempt["responseHeaders"]["X-Trace"] == "t-1"
    assert attempt["responseBody"] == "nope"
    assert attempt["authSteps"] == ["basic"]
    assert SECRET not in json.dumps(push)
    status, job, _ = await admin.call("GET", "/api/v1/jobs/attempt-job/attempts")
    assert status == 200
    assert [a["deliveryId"] for a in job["attempts"]] == [delivery_id]
    status, body, _ = await admin.call("GET", "/api/v1/pushes/no-such-push")
    assert (status, body["error"]) == (404, "not_found")


async def test_cancel_then_redeliver(admin: Admin) -> None:
    delivery_id = await _ingest(admin, "cancel-job")
    path = f"/api/v1/pushes/{delivery_id}"
    status, _, _ = await admin.call("POST", path + "/redeliver")
    assert status == 409  # pending already
    status, push, _ = await admin.call("POST", path + "/cancel")
    assert (status, push["state"]) == (200, "cancelled")
    status, body, _ = await admin.call("POST", path + "/cancel")
    assert (status, body["error"]) == (409, "conflict")
    status, push, _ = await admin.call("POST", path + "/redeliver")
    assert (status, push["state"]) == (200, "pending")
    status, _, _ = await admin.call("POST", "/api/v1/pushes/nothing-here/cancel")
    assert status == 404
    status, _, _ = await admin.call("POST", path + "/cancel", token=admin.read_token)
    assert status == 403


async def test_redeliver_by_filter(admin: Admin) -> None:
    ids = [await _ingest(admin, "bulk-job") for _ in range(3)]
    for delivery_id in ids[:2]:
        await admin.call("POST", f"/api/v1/pushes/{delivery_id}/cancel")
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes/redeliver", json_body={"jobId": "bulk-job", "state": "cancelled"}
    )
    assert (status, body) == (200, {"redelivered": 2})
    status, body, _ = await admin.call("POST", "/api/v1/pushes/redeliver", json_body={})
    assert (status, body["field"]) == (400, "state")
    status, body, _ = await admin.call(
        "POST", "/api/v1/pushes/redeliver", json_body={"state": "pending"}
    )
    assert status == 400


async def test_receivers_table_counts_attempts(admin: Admin) -> None:
    url = "https://receivers.example.test/in"
    delivered = await _ingest(admin, "recv-job", url=url)
    await _attempt(admin, delivered, status=200, verdict=Verdict.DELIVERED)
    await _ingest(admin, "recv-job", url=url)
    status, body, _ = await admin.call("GET", "/api/v1/receivers", token=admin.read_token)
    assert status == 200
    rows = {row["receiver"]: row for row in body["receivers"]}
    row: dict[str, Any] = rows["https://receivers.example.test:443"]
    assert row["lastHour"]["attempts"] == 1
    assert row["lastHour"]["successRate"] == 1.0
    assert row["pending"] == 1
    assert row["consecutiveFailures"] == 0
    assert row["oldestPendingAgeSeconds"] >= 0


async def test_health_routes_need_no_token_and_the_rest_does(admin: Admin) -> None:
    for path, expected in (("/healthz", 200), ("/readyz", 200)):
        async with admin.session.get(admin.url + path) as answer:
            assert answer.status == expected, await answer.text()
    for path in ("/api/v1/pushes", "/api/v1/receivers", "/openapi.json", "/api/v1/jobs/x/attempts"):
        async with admin.session.get(admin.url + path) as answer:
            assert answer.status == 401, path
    status, body, _ = await admin.call("GET", "/no/such/route")
    assert (status, body["error"]) == (404, "not_found")
