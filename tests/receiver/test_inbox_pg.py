"""The PostgreSQL inbox across processes: several receivers (separate pools) sharing one
database store each push once and run each handler once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from faxpush._db.postgres import Reconnect
from faxpush._db.postgres_log import POOL_LOGGER, PoolFloorLogFilter
from faxpush.core.errors import StorageError
from faxpush.receiver.handlers import HandlerRunner
from faxpush.receiver.inbox import InboxEntry, PgInbox, TaskState, open_inbox
from tests import pg_support
from tests.receiver.test_inbox import LEASE, T0, push

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh database holding the outbox schema, to show the inbox can share it."""
    pg_support.require_postgres()
    template = await pg_support.outbox_template()
    async with pg_support.fresh_database(template) as url:
        yield url


@pytest.fixture
async def two_inboxes(pg_url: str) -> AsyncIterator[tuple[PgInbox, PgInbox]]:
    """Two inboxes on one database, each with its own pool, as two receiver processes."""
    first = await PgInbox.open(pg_url, max_connections=4)
    second = await PgInbox.open(pg_url, max_connections=4)
    try:
        await asyncio.gather(first.migrate(), second.migrate())  # they take turns
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_the_same_push_in_two_processes_is_stored_and_handled_once(
    two_inboxes: tuple[PgInbox, PgInbox],
) -> None:
    calls: list[str] = []

    async def record(entry: InboxEntry) -> None:
        calls.append(entry.key)
        await asyncio.sleep(0.05)  # the other process's claims overlap this run

    runners = [HandlerRunner(inbox, {"record": record}) for inbox in two_inboxes]

    async def receive(inbox: PgInbox, runner: HandlerRunner) -> bool:
        accepted = await inbox.accept(push(), handlers=runner.names, now=datetime.now(UTC))
        await runner.run_due(key=accepted.key)
        return accepted.created

    pairs = list(zip(two_inboxes, runners, strict=True))
    created = await asyncio.gather(
        *(receive(inbox, runner) for _ in range(3) for inbox, runner in pairs)
    )
    first, second = two_inboxes
    assert sum(created) == 1
    assert await first.count() == await second.count() == 1
    entry = await second.get("delivery:d1")
    assert entry is not None
    assert entry.times_received == 6
    assert calls == ["delivery:d1"]
    (task,) = await first.list_tasks()
    assert (task.handler, task.state, task.attempts) == ("record", TaskState.DONE, 1)


async def test_concurrent_claims_from_two_processes_never_share_a_task(
    two_inboxes: tuple[PgInbox, PgInbox],
) -> None:
    first, second = two_inboxes
    for index in range(60):
        await first.accept(push(f"delivery:{index}"), handlers=["a", "b"], now=T0)

    async def drain(inbox: PgInbox) -> list[tuple[str, str]]:
        taken: list[tuple[str, str]] = []
        for _ in range(100):  # bounded: 120 tasks, at least one per round while any remain
            claimed = await inbox.claim_tasks(now=T0, lease=LEASE, limit=7)
            if not claimed:
                break
            taken += [(c.task.key, c.task.handler) for c in claimed]
        return taken

    taken_first, taken_second = await asyncio.gather(drain(first), drain(second))
    everything = taken_first + taken_second
    assert len(everything) == len(set(everything)) == 120
    running = await second.list_tasks(state=TaskState.RUNNING)
    assert len(running) == 120
    assert all(task.attempts == 1 for task in running)


async def test_a_claim_in_one_process_fences_a_stale_one_in_another(
    two_inboxes: tuple[PgInbox, PgInbox],
) -> None:
    first, second = two_inboxes
    await first.accept(push(), handlers=["h"], now=T0)
    (stale,) = await first.claim_tasks(now=T0, lease=LEASE, limit=1)
    (current,) = await second.claim_tasks(now=T0 + LEASE, lease=LEASE, limit=1)
    assert not await first.finish_task(stale, now=T0 + LEASE)
    assert await second.finish_task(current, now=T0 + LEASE)
    assert [t.state for t in await first.list_tasks()] == [TaskState.DONE]


async def test_open_inbox_routes_postgres_urls_and_shares_the_outbox_database(
    pg_url: str,
) -> None:
    for scheme in ("postgresql", "postgres"):
        inbox = await open_inbox(pg_url.replace("postgresql", scheme, 1))
        try:
            assert isinstance(inbox, PgInbox)
            assert (await inbox.accept(push(), handlers=[], now=T0)).created is (
                scheme == "postgresql"
            )
        finally:
            await inbox.close()
    async with pg_support.admin_connection(pg_url) as conn:
        outbox_version = await conn.fetchval("SELECT max(version) FROM schema_version")
        inbox_version = await conn.fetchval("SELECT max(version) FROM inbox_schema_version")
    assert outbox_version >= 1
    assert inbox_version == 1


async def test_a_newer_inbox_schema_is_refused(pg_url: str) -> None:
    await (await open_inbox(pg_url)).close()
    async with pg_support.admin_connection(pg_url) as conn:
        await conn.execute("INSERT INTO inbox_schema_version VALUES (99, 'future', now())")
    with pytest.raises(StorageError, match="newer than this faxpush knows"):
        await open_inbox(pg_url)


async def test_an_inbox_survives_terminated_sessions(pg_url: str) -> None:
    inbox = await PgInbox.open(pg_url, reconnect=Reconnect(budget_s=10.0, max_delay_s=0.5))
    try:
        await inbox.migrate()
        assert (await inbox.accept(push("delivery:1"), handlers=["h"], now=T0)).created
        assert await pg_support.terminate_sessions(pg_url) >= 1
        again = await inbox.accept(push("delivery:1"), handlers=["h"], now=T0)
        assert (again.created, again.times_received) == (False, 2)
        assert len(await inbox.claim_tasks(now=T0, lease=LEASE, limit=5)) == 1
    finally:
        await inbox.close()


async def test_naive_times_are_refused(two_inboxes: tuple[PgInbox, PgInbox]) -> None:
    with pytest.raises(StorageError, match="timezone-aware"):
        await two_inboxes[0].accept(push(), handlers=[], now=datetime(2024, 5, 6, 9, 0))
    assert await two_inboxes[0].purge(received_before=T0 + timedelta(days=1)) == 0


async def test_the_inbox_pool_keeps_asyncpg_outage_warnings_to_one_line(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_logger = logging.getLogger(POOL_LOGGER)
    monkeypatch.setattr(pool_logger, "filters", [])  # as in a process with no outbox store
    inbox = await PgInbox.open(pg_url, max_connections=2)
    try:
        assert any(isinstance(found, PoolFloorLogFilter) for found in pool_logger.filters)
    finally:
        await inbox.close()
