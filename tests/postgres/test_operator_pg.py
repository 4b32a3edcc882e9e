"""The PostgreSQL store's operator part where several connections (or machines) meet:
counters added up by concurrent finishes, batch enqueue seen whole or not at all, keyset
pages while pushes arrive, the first idempotent answer winning, and the plans its lists use.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from faxpush.core.errors import StorageError
from faxpush.core.receiver_stats import bucket_start
from faxpush.storage._pg_operator_rows import QUERIES as OPERATOR_QUERIES
from faxpush.storage._pg_operator_rows import operator_sql
from faxpush.storage.base import AttemptResult, PushState, Verdict, receiver_key
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.operator import IdempotentAnswer, PageCursor, PushFilter
from faxpush.storage.postgres import PostgresStore
from tests import pg_support
from tests.contract.builders import LEASE, NOW, attempt, new_push

from .conftest import OpenStore

pytestmark = pytest.mark.postgres

URL_A = "https://a.example.test/hook"
URL_B = "https://b.example.test/hook"
URL_C = "http://c.example.test:8080/hook"


def _result(delivery_id: str, claim_id: str, *, ok: bool, url: str, ms: float) -> AttemptResult:
    record = replace(attempt(delivery_id, http_status=200 if ok else 503), duration_ms=ms)
    return AttemptResult(
        delivery_id,
        claim_id,
        record,
        Verdict.DELIVERED if ok else Verdict.FAILED,
        error=None if ok else "HTTP 503 from the receiver",
        receiver=receiver_key(url),
    )


async def test_concurrent_finishes_from_two_stores_add_up_exactly(open_store: OpenStore) -> None:
    # Two stores (two pools, as on two machines) finish interleaved batches for the same
    # receivers and buckets at once: every attempt is counted once, and no batch deadlocks.
    first, second = await open_store(max_connections=4), await open_store(max_connections=4)
    urls = [URL_A, URL_B, URL_C]
    pushes = [new_push(f"d{n:04d}", credentials=None, url=urls[n % 3]) for n in range(600)]
    await first.enqueue_many(pushes, now=NOW)
    claimed = await first.claim(worker_id="w", limit=600, lease=LEASE, now=NOW)
    batches = [claimed[start : start + 25] for start in range(0, 600, 25)]

    async def finish(store: PostgresStore, batch_no: int) -> None:
        # Each batch covers every receiver, in an order that differs from batch to batch.
        batch = batches[batch_no][:: 1 if batch_no % 2 else -1]
        results = [
            _result(
                c.push.delivery_id,
                c.claim_id,
                ok=n % 4 != 0,
                url=c.push.target.url,
                ms=3.0 if n % 2 else 700.0,
            )
            for n, c in enumerate(batch)
        ]
        await store.finish(results, now=NOW)

    async with asyncio.timeout(60):
        await asyncio.gather(*(finish(first if n % 2 else second, n) for n in range(len(batches))))

    stats = await first.receiver_stats(now=NOW + timedelta(minutes=1))
    assert [row.receiver for row in stats] == sorted(receiver_key(url) for url in urls)
    assert sum(row.attempts_hour for row in stats) == 600
    assert sum(row.attempts_day for row in stats) == 600
    assert sum(row.successes_hour for row in stats) == sum(
        1 for batch in batches for n in range(len(batch)) if n % 4 != 0
    )
    assert all(row.attempts_hour == 200 for row in stats)
    assert all(row.duration_p50_ms in (5.0, 1000.0) for row in stats)
    assert all(row.last_attempt_at == NOW for row in stats)
    async with pg_support.admin_connection(first_url(first)) as conn:
        rows = await conn.fetch("SELECT receiver, bucket_start, attempts FROM receiver_counts")
    assert {(row["receiver"], row["bucket_start"]) for row in rows} == {
        (receiver_key(url), bucket_start(NOW)) for url in urls
    }


def first_url(store: PostgresStore) -> str:
    """The test database's URL with the admin role's credentials."""
    return pg_support.database_url(pg_support.database_name(store.url))


async def test_results_without_a_receiver_are_counted_under_their_push(
    open_store: OpenStore,
) -> None:
    store = await open_store()
    await store.enqueue_many([new_push("d1", credentials=None, url=URL_C)], now=NOW)
    [claim] = await store.claim(worker_id="w", limit=1, lease=LEASE, now=NOW)
    result = AttemptResult("d1", claim.claim_id, attempt("d1"), Verdict.DELIVERED)
    assert await store.finish([result], now=NOW) == {"d1"}
    [row] = await store.receiver_stats(now=NOW)
    assert (row.receiver, row.attempts_hour, row.successes_hour) == (receiver_key(URL_C), 1, 1)


async def test_enqueue_many_is_seen_whole_or_not_at_all(open_store: OpenStore) -> None:
    # A reader on another connection polls while a batch of 1,000 goes in: it sees none of
    # it or all of it, never a part.
    writer, reader = await open_store(), await open_store()
    pushes = [new_push(f"b{n:04d}", credentials=None) for n in range(1000)]
    seen: list[int] = []
    done = asyncio.Event()

    async def watch() -> None:
        async with asyncio.timeout(30):
            while not done.is_set():
                counts = await reader.count_by_state()
                seen.append(counts[PushState.PENDING])
                await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    stored = await writer.enqueue_many(pushes, now=NOW)
    done.set()
    await watcher
    assert [push.delivery_id for push in stored] == [push.delivery_id for push in pushes]
    assert set(seen) <= {0, 1000}
    assert (await reader.count_by_state())[PushState.PENDING] == 1000


async def test_enqueue_many_stores_nothing_when_the_batch_fails(
    open_store: OpenStore, pg_url: str
) -> None:
    store = await open_store()
    pushes = [new_push(f"e{n}", credentials=None) for n in range(5)]
    # A row the batch cannot insert (a constraint the database enforces) fails all five.
    async with pg_support.admin_connection(pg_url) as conn:
        await conn.execute(
            "ALTER TABLE pushes ADD CONSTRAINT no_e3 CHECK (delivery_id <> 'e3') NOT VALID"
        )
    with pytest.raises(StorageError, match="no_e3"):
        await store.enqueue_many(pushes, now=NOW)
    assert await store.find_pushes(PushFilter(), limit=10) == []


async def test_keyset_pages_have_no_gaps_or_repeats_while_pushes_arrive(
    open_store: OpenStore,
) -> None:
    # Pushes created in the same microsecond are told apart by delivery id, in byte order.
    reader, writer = await open_store(), await open_store()
    first = [new_push(f"k{n:03d}", credentials=None) for n in range(150)]
    await writer.enqueue_many(first, now=NOW)
    pages: list[str] = []
    cursor: PageCursor | None = None
    arrivals = 0
    async with asyncio.timeout(30):
        while True:
            page = await reader.find_pushes(PushFilter(), limit=20, before=cursor)
            if not page:
                break
            pages.extend(push.delivery_id for push in page)
            cursor = PageCursor(page[-1].created_at, page[-1].delivery_id)
            late = [new_push(f"late{arrivals}-{n}", credentials=None) for n in range(7)]
            await writer.enqueue_many(late, now=NOW + timedelta(seconds=1 + arrivals))
            arrivals += 1
    assert pages == sorted((push.delivery_id for push in first), reverse=True)


async def test_first_idempotent_answer_wins_across_twenty_connections(
    open_store: OpenStore,
) -> None:
    stores = [await open_store(max_connections=2) for _ in range(4)]
    answers = [
        IdempotentAnswer("writer:key-1", f"hash-{n}", 202, f"answer {n}".encode(), NOW)
        for n in range(20)
    ]
    async with asyncio.timeout(30):
        kept = await asyncio.gather(
            *(
                stores[n % 4].remember_idempotent(answer, keep=timedelta(hours=24), now=NOW)
                for n, answer in enumerate(answers)
            )
        )
    assert len(set(kept)) == 1
    assert kept[0] in answers
    assert await stores[0].get_idempotent("writer:key-1", now=NOW) == kept[0]


async def test_an_expired_answer_is_replaced(open_store: OpenStore) -> None:
    store = await open_store()
    old = IdempotentAnswer("k", "h1", 202, b"old", NOW)
    new = IdempotentAnswer("k", "h2", 202, b"new", NOW + timedelta(hours=2))
    await store.remember_idempotent(old, keep=timedelta(hours=1), now=NOW)
    later = NOW + timedelta(hours=2)
    assert await store.remember_idempotent(new, keep=timedelta(hours=1), now=later) == new


async def test_list_filters_fold_away_and_each_has_an_index(
    open_store: OpenStore, pg_url: str
) -> None:
    # Planned for its values (as the store runs it), the list query keeps only the filters
    # that are set, as index conditions. Which index wins on a table this small is the
    # planner's call; docs/benchmarks.md has the plans at a million pushes.
    store = await open_store()
    pushes = [
        new_push(f"p{n:05d}", credentials=None, url=[URL_A, URL_B][n % 2]) for n in range(2000)
    ]
    for start in range(0, 2000, 500):
        await store.enqueue_many(pushes[start : start + 500], now=NOW + timedelta(seconds=start))
    await store.cancel([push.delivery_id for n, push in enumerate(pushes) if n % 20], now=NOW)
    cursor = {"before_at": NOW + timedelta(seconds=600), "before_id": "p00900"}
    filters: dict[str, dict[str, Any]] = {
        "newest": {},
        "state": {"state": "pending", **cursor},
        "receiver": {"receiver": receiver_key(URL_A), **cursor},
        "job": {"job_id": "job-p00007"},
        "since": {"since": NOW + timedelta(seconds=1900)},
        "pending receiver": {"state": "pending", "receiver": receiver_key(URL_B)},
    }
    async with pg_support.admin_connection(pg_url) as conn:
        await conn.execute("ANALYZE pushes")
        plans = {name: await _plan(conn, where) for name, where in filters.items()}
    for name, plan in plans.items():
        assert "IS NULL" not in plan, (name, plan)
        assert "Seq Scan" not in plan, (name, plan)
    assert "Scan Backward using pushes_newest" in plans["newest"]
    assert "Index Cond: (job_id = " in plans["job"]
    assert "pushes_state_newest" in plans["state"]
    assert "Index Cond: (created_at >= " in plans["since"]


async def _plan(conn: asyncpg.Connection, where: dict[str, Any]) -> str:
    """The plan the store's list query gets for these filters."""
    query = OPERATOR_QUERIES["find_pushes"]
    params = dict.fromkeys(query.names) | {"limit": 50} | where
    async with conn.transaction():
        await conn.execute(*operator_sql("force_custom_plan"))
        rows = await conn.fetch(f"EXPLAIN {query.text}", *query.args(params))
    # The page search: its two scans of pushes (the rest of the pushes not in flight, and
    # those in flight), which the plan names pushes_1 and pushes_2, and their conditions. How
    # the page's rows are read afterwards depends on the table's size.
    lines = [row[0] for row in rows]
    found = [
        "\n".join(lines[n : n + 5]) for n, line in enumerate(lines) if " on pushes pushes_" in line
    ]
    assert len(found) == 2, lines
    return "\n".join(found)


async def test_readiness_names_an_outdated_schema_and_a_closed_store(
    open_store: OpenStore, pg_url: str
) -> None:
    store = await open_store()
    assert await store.readiness() is None
    async with pg_support.admin_connection(pg_url) as conn:
        newest = await conn.fetchval(
            "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)"
            " RETURNING version"
        )
    reason = await store.readiness()
    assert reason is not None
    assert f"schema version {newest - 1} and this faxpush needs {newest}" in reason
    assert "faxpush db migrate" in reason
    await store.close()
    assert "closed" in (await store.readiness() or "")


async def test_readiness_of_an_empty_database_says_to_migrate(
    empty_pg_url: str, cipher: SecretCipher
) -> None:
    store = await PostgresStore.open(empty_pg_url, cipher)
    try:
        reason = await store.readiness()
    finally:
        await store.close()
    assert reason is not None
    assert "faxpush db migrate" in reason
