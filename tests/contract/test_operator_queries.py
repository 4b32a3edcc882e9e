"""Contract: the operator API's batch enqueue, filtered keyset pages and a job's attempts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from faxpush.core.errors import FaxpushError, InputError
from faxpush.storage.base import PushRecord, PushState, Verdict
from faxpush.storage.operator import OperatorStore, PageCursor, PushFilter

from .builders import LEASE, NOW, SOON, new_push, result
from .conftest import TrackingBackend

A = "https://a.example.test/hook"
B = "http://b.example.test:8080/hook"
A_KEY, B_KEY = "https://a.example.test:443", "http://b.example.test:8080"


async def _all_pages(store: OperatorStore, where: PushFilter, *, limit: int) -> list[PushRecord]:
    found: list[PushRecord] = []
    cursor: PageCursor | None = None
    for _ in range(100):  # bounded
        page = await store.find_pushes(where, limit=limit, before=cursor)
        found.extend(page)
        if len(page) < limit:
            return found
        cursor = PageCursor(page[-1].created_at, page[-1].delivery_id)
    raise AssertionError("more than 100 pages")


def _newest_first(records: list[PushRecord]) -> list[str]:
    ordered = sorted(records, key=lambda p: (p.created_at, p.delivery_id), reverse=True)
    return [p.delivery_id for p in ordered]


async def _mixed_outbox(store: OperatorStore) -> list[PushRecord]:
    """24 pushes: two receivers, four jobs, groups created in the same microsecond, and
    pushes pending, in flight, delivered, failed and cancelled."""
    for group in range(6):
        batch = [
            replace(
                new_push(f"m{group}-{n}", url=A if n % 2 else B),
                job_id=f"job-{(group + n) % 4}",
            )
            for n in range(4)
        ]
        await store.enqueue_many(batch, now=NOW + timedelta(seconds=group))
    later = NOW + timedelta(minutes=1)
    claims = await store.claim(worker_id="w", limit=9, lease=LEASE, now=later)
    results = [
        result(claim, Verdict.DELIVERED if n % 3 else Verdict.FAILED, error="HTTP 500")
        for n, claim in enumerate(claims[:6])
    ]
    await store.finish(results, now=later)
    pending = [p.delivery_id for p in await store.list_pushes(state=PushState.PENDING)]
    await store.cancel(pending[:3], now=later)
    return await store.list_pushes(limit=1000)


async def test_enqueue_many_stores_all_in_order(operator_store: OperatorStore) -> None:
    pushes = [new_push(f"e{n}", not_before=NOW + timedelta(minutes=n)) for n in range(3)]
    records = await operator_store.enqueue_many(pushes, now=NOW)
    assert [r.delivery_id for r in records] == ["e0", "e1", "e2"]
    assert all(r.state is PushState.PENDING and r.created_at == NOW for r in records)
    assert [r.next_attempt_at for r in records] == [p.not_before for p in pushes]
    assert records[0].body == pushes[0].body
    assert records[0].target.credentials == pushes[0].target.credentials
    assert await operator_store.get_push("e1") == records[1]
    assert await operator_store.enqueue_many([], now=NOW) == []


async def test_enqueue_many_returns_existing_pushes_as_they_are(
    operator_store: OperatorStore,
) -> None:
    (first,) = await operator_store.enqueue_many([new_push("x")], now=NOW)
    await operator_store.cancel(["x"], now=SOON)
    again = await operator_store.enqueue_many(
        [new_push("x", body=b"other"), new_push("y")], now=SOON
    )
    assert again[0].state is PushState.CANCELLED
    assert (again[0].body, again[0].created_at) == (first.body, NOW)
    assert again[1].delivery_id == "y"


async def test_enqueue_many_refuses_the_whole_batch(operator_store: OperatorStore) -> None:
    naive = datetime(2024, 5, 1, 12, 0)  # no time zone: the bad push
    batch = [new_push("ok1"), new_push("bad", not_before=naive), new_push("ok2")]
    with pytest.raises(InputError, match="not_before"):
        await operator_store.enqueue_many(batch, now=NOW)
    assert await operator_store.list_pushes() == []


async def test_enqueue_many_rolls_back_a_failure_inside_the_transaction(
    backend: TrackingBackend, operator_store: OperatorStore
) -> None:
    if backend.name == "memory":
        pytest.skip("the memory store refuses nothing once the batch is checked")
    # A body the database refuses (NOT NULL) after the first push is written.
    batch = [new_push("ok1"), replace(new_push("bad"), body=None), new_push("ok2")]  # type: ignore[arg-type]
    with pytest.raises(FaxpushError):
        await operator_store.enqueue_many(batch, now=NOW)
    assert await operator_store.list_pushes() == []


FILTERS = [
    PushFilter(),
    PushFilter(state=PushState.PENDING),
    PushFilter(state=PushState.DELIVERED),
    PushFilter(state=PushState.CANCELLED),
    PushFilter(job_id="job-1"),
    PushFilter(receiver=A_KEY),
    PushFilter(since=NOW + timedelta(seconds=3)),
    PushFilter(state=PushState.PENDING, receiver=B_KEY),
    PushFilter(state=PushState.DELIVERED, job_id="job-2", receiver=A_KEY),
    PushFilter(job_id="job-0", since=NOW + timedelta(seconds=2)),
    PushFilter(state=PushState.FAILED, since=NOW + timedelta(seconds=1)),
    PushFilter(receiver="https://nobody.example.test:443"),
]


def _matches(push: PushRecord, where: PushFilter) -> bool:
    url = {A_KEY: A, B_KEY: B}.get(where.receiver or "", "")
    return (
        (where.state is None or push.state is where.state)
        and (where.job_id is None or push.job_id == where.job_id)
        and (where.receiver is None or push.target.url == url)
        and (where.since is None or push.created_at >= where.since)
    )


async def test_find_pushes_filters_and_pages(operator_store: OperatorStore) -> None:
    everything = await _mixed_outbox(operator_store)
    for where in FILTERS:
        expected = [p for p in everything if _matches(p, where)]
        one_page = await operator_store.find_pushes(where, limit=1000)
        assert [p.delivery_id for p in one_page] == _newest_first(expected), where
        newest_first = sorted(expected, key=lambda p: (p.created_at, p.delivery_id))[::-1]
        assert one_page == newest_first, where
        paged = await _all_pages(operator_store, where, limit=3)
        assert [p.delivery_id for p in paged] == _newest_first(expected), where
    assert len(everything) == 24


async def test_pages_neither_repeat_nor_skip_while_pushes_arrive(
    operator_store: OperatorStore,
) -> None:
    # 5 groups of 5 pushes, each group created in one microsecond: ties break by delivery id.
    for group in range(5):
        pushes = [new_push(f"k{group}-{n}") for n in (3, 0, 4, 1, 2)]
        await operator_store.enqueue_many(pushes, now=NOW + timedelta(microseconds=group))
    seen: list[str] = []
    cursor: PageCursor | None = None
    for round_ in range(20):  # bounded
        page = await operator_store.find_pushes(PushFilter(), limit=7, before=cursor)
        seen.extend(p.delivery_id for p in page)
        if len(page) < 7:
            break
        cursor = PageCursor(page[-1].created_at, page[-1].delivery_id)
        # Newer pushes arrive between pages, some in the cursor's own microsecond.
        arriving = [new_push(f"new{round_}-{n}") for n in range(3)]
        await operator_store.enqueue_many(arriving, now=NOW + timedelta(seconds=1 + round_))
    expected = [f"k{group}-{n}" for group in range(4, -1, -1) for n in range(4, -1, -1)]
    assert seen == expected


async def test_find_pushes_refuses_a_bad_limit(operator_store: OperatorStore) -> None:
    for limit in (0, -1, 10_001):
        with pytest.raises(InputError, match="limit"):
            await operator_store.find_pushes(PushFilter(), limit=limit)


async def test_job_attempts_oldest_first_across_pushes(operator_store: OperatorStore) -> None:
    pushes = [replace(new_push(f"j{n}"), job_id="job-shared") for n in range(2)]
    await operator_store.enqueue_many([*pushes, new_push("other")], now=NOW)
    claims = {
        c.push.delivery_id: c
        for c in await operator_store.claim(worker_id="w", limit=10, lease=LEASE, now=SOON)
    }
    late, early = (
        result(claims["j0"], Verdict.RETRY, next_attempt_at=SOON, error="e"),
        result(claims["j1"], Verdict.DELIVERED),
    )
    late = replace(late, attempt=replace(late.attempt, started_at=NOW + timedelta(seconds=5)))
    await operator_store.finish([late, early, result(claims["other"])], now=SOON)
    (again,) = await operator_store.claim(
        worker_id="w", limit=10, lease=LEASE, now=SOON + timedelta(seconds=1)
    )
    second = result(again, Verdict.DELIVERED)
    second = replace(second, attempt=replace(second.attempt, started_at=NOW + timedelta(seconds=9)))
    await operator_store.finish([second], now=SOON + timedelta(seconds=1))

    attempts = await operator_store.job_attempts("job-shared")

    assert [(a.delivery_id, a.number) for a in attempts] == [("j1", 1), ("j0", 1), ("j0", 2)]
    assert await operator_store.job_attempts("job-none") == []
