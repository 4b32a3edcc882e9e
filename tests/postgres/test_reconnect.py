"""Connection loss: terminated sessions are survived, and repeated work is not done twice."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from faxpush._db.postgres import Reconnect
from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.storage.base import ClaimedPush, PushState, Verdict
from faxpush.storage.cipher import SecretCipher
from faxpush.storage.postgres import PostgresStore
from tests import pg_support
from tests.contract.builders import LEASE, SOON, enqueue_many, result

from .conftest import OpenStore

pytestmark = pytest.mark.postgres


async def test_every_operation_works_after_all_sessions_were_terminated(
    open_store: OpenStore, pg_url: str
) -> None:
    store = await open_store()
    ids = await enqueue_many(store, 20)
    assert await pg_support.terminate_sessions(pg_url) >= 1

    claims = await store.claim(worker_id="w", limit=50, lease=LEASE, now=SOON)
    assert [c.push.delivery_id for c in claims] == ids
    assert await pg_support.terminate_sessions(pg_url) >= 1
    assert await store.renew(
        [(c.push.delivery_id, c.claim_id) for c in claims], lease=LEASE, now=SOON
    ) == set(ids)
    await pg_support.terminate_sessions(pg_url)
    assert await store.finish([result(c) for c in claims], now=SOON) == set(ids)
    await pg_support.terminate_sessions(pg_url)
    assert (await store.count_by_state())[PushState.DELIVERED] == 20


async def test_workers_survive_repeated_termination_without_loss_or_double_work(
    open_store: OpenStore, pg_url: str
) -> None:
    """Three stores claim and finish 600 pushes while every session is ended four times:
    every push ends delivered with exactly one attempt row."""
    stores = [await open_store() for _ in range(3)]
    ids = await enqueue_many(stores[0], 600)
    applied: Counter[str] = Counter()
    rng = random.Random(7)

    async def worker(store: PostgresStore, name: str) -> None:
        for _ in range(400):  # bounded; 600 pushes need far fewer rounds
            claims = await store.claim(worker_id=name, limit=10, lease=timedelta(hours=1), now=SOON)
            if not claims:
                return
            await asyncio.sleep(rng.uniform(0, 0.01))
            applied.update(await store.finish([result(c) for c in claims], now=SOON))

    async def saboteur() -> None:
        for _ in range(4):
            await asyncio.sleep(0.15)
            await pg_support.terminate_sessions(pg_url)

    await asyncio.gather(saboteur(), *(worker(s, f"w{n}") for n, s in enumerate(stores)))

    assert sorted(applied) == ids
    assert set(applied.values()) == {1}
    counts = await stores[1].count_by_state()
    assert counts[PushState.DELIVERED] == 600
    async with pg_support.admin_connection(pg_url) as conn:
        per_push = await conn.fetch("SELECT delivery_id, count(*) AS n FROM attempts GROUP BY 1")
    assert len(per_push) == 600
    assert {row["n"] for row in per_push} == {1}


def _lose_first_reply(store: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the store's next operation commit, then lose its connection before the reply
    (the case a retry must not turn into doing the work twice)."""
    runner = store._runner
    original = runner.run
    lost = False

    async def run(action: str, work: Callable[[Any, int], Awaitable[Any]], **kw: Any) -> Any:
        async def lossy(conn: Any, attempt: int) -> Any:
            nonlocal lost
            outcome = await work(conn, attempt)
            if not lost:
                lost = True
                await pg_support.terminate_sessions(pg_url)
                raise asyncpg.ConnectionDoesNotExistError("connection lost before the reply")
            return outcome

        return await original(action, lossy, **kw)

    monkeypatch.setattr(runner, "run", run)


async def test_a_claim_whose_reply_was_lost_returns_what_it_took(
    open_store: OpenStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    ids = await enqueue_many(store, 10)
    _lose_first_reply(store, pg_url, monkeypatch)

    claims = await store.claim(worker_id="w", limit=4, lease=LEASE, now=SOON)

    assert [c.push.delivery_id for c in claims] == ids[:4]
    counts = await store.count_by_state()
    assert (counts[PushState.IN_FLIGHT], counts[PushState.PENDING]) == (4, 6)
    for claim in claims:
        stored = await store.get_push(claim.push.delivery_id)
        assert stored is not None
        assert stored.claim_id == claim.claim_id


async def test_a_finish_whose_reply_was_lost_is_not_recorded_twice(
    open_store: OpenStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store()
    ids = await enqueue_many(store, 3)
    claims = await store.claim(worker_id="w", limit=3, lease=LEASE, now=SOON)
    stale = ClaimedPush(claims[2].push, "w:stale", claims[2].claimed_until)
    batch = [
        result(claims[0]),
        result(claims[1], Verdict.RETRY, next_attempt_at=SOON + LEASE),
        result(stale, Verdict.FAILED),
    ]
    _lose_first_reply(store, pg_url, monkeypatch)

    applied = await store.finish(batch, now=SOON)

    assert applied == set(ids[:2])
    for delivery_id in ids:
        assert len(await store.list_attempts(delivery_id)) == 1
    states = {p.delivery_id: (p.state, p.attempts) for p in await store.list_pushes()}
    assert states == {
        ids[0]: (PushState.DELIVERED, 1),
        ids[1]: (PushState.PENDING, 1),
        ids[2]: (PushState.IN_FLIGHT, 0),
    }


async def test_an_unreachable_server_is_a_storage_error_after_the_retry_budget(
    cipher: SecretCipher,
) -> None:
    pg_support.require_postgres()
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/faxpush"
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StorageError, match="unreachable") as caught:
        await PostgresStore.open(url, cipher, reconnect=Reconnect(budget_s=0.6, max_delay_s=0.2))
    assert loop.time() - started < 5
    assert "gave up after" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
    assert "postgresql://postgres@127.0.0.1:1/faxpush" in str(caught.value)


async def test_an_unknown_database_is_a_configuration_error(cipher: SecretCipher) -> None:
    pg_support.require_postgres()
    url = pg_support.database_url("faxpush_test_does_not_exist")
    with pytest.raises(ConfigurationError, match="database name"):
        await PostgresStore.open(url, cipher)


async def test_a_missing_schema_says_to_migrate(open_store: OpenStore, empty_pg_url: str) -> None:
    store = await open_store(empty_pg_url)
    with pytest.raises(StorageError, match="faxpush db migrate"):
        await store.get_push("d1")
    await store.migrate()
    assert await store.get_push("d1") is None


async def test_a_closed_store_says_closed_even_while_reconnecting(
    open_store: OpenStore, pg_url: str
) -> None:
    store = await open_store()
    repr_ = repr(store)
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.count_by_state()
    with pytest.raises(StorageError, match="closed"):
        await store.wait_for_work(0.01)
    assert "PostgresStore('postgresql://postgres@127.0.0.1" in repr_
