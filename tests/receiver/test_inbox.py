"""The inbox contract, run against the in-memory, the SQLite and the PostgreSQL inbox alike
(PostgreSQL: a fresh database per test, see tests/pg_support.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import ConfigurationError, StorageError
from faxpush.core.models import AuthMethod
from faxpush.receiver.inbox import (
    InboxStore,
    IncomingPush,
    MemoryInbox,
    PgInbox,
    SqliteInbox,
    TaskState,
    inbox_key,
    open_inbox,
    valid_delivery_id,
)
from tests import pg_support
from tests.samples import FULL_REPORT_MODEL, MINIMAL_REPORT_MODEL, sample

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def push(
    key: str = "delivery:d1", *, full: bool = True, default_layout: bool = True
) -> IncomingPush:
    report = FULL_REPORT_MODEL if full else MINIMAL_REPORT_MODEL
    name = "report-full.xml" if full else "report-minimal.xml"
    return IncomingPush(
        key=key,
        content_type="text/xml; charset=UTF-8",
        body=sample(name),
        report=report,
        auth_method=AuthMethod.HTTP_BASIC,
        principal="alice",
        delivery_id=key.removeprefix("delivery:"),
        default_layout=default_layout,
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def inbox(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InboxStore]:
    async with contextlib.AsyncExitStack() as stack:
        store: InboxStore
        if request.param == "memory":
            store = MemoryInbox()
        elif request.param == "sqlite":
            store = await SqliteInbox.open(tmp_path / "inbox.db")
        else:
            pg_support.require_postgres()
            url = await stack.enter_async_context(pg_support.fresh_database())
            store = await PgInbox.open(url)
        stack.push_async_callback(store.close)
        await store.migrate()
        await store.migrate()  # idempotent
        yield store


async def test_accept_stores_once_and_counts_duplicates(inbox: InboxStore) -> None:
    first = await inbox.accept(push(), handlers=["h"], now=T0)
    again = await inbox.accept(push(), handlers=["h"], now=T0 + timedelta(seconds=5))
    assert (first.created, first.times_received) == (True, 1)
    assert (again.created, again.times_received) == (False, 2)
    entry = await inbox.get("delivery:d1")
    assert entry is not None
    assert entry.report == FULL_REPORT_MODEL
    assert entry.body == sample("report-full.xml")
    assert (entry.times_received, entry.received_at) == (2, T0)
    assert entry.last_received_at == T0 + timedelta(seconds=5)
    assert (entry.auth_method, entry.principal, entry.delivery_id) == (
        AuthMethod.HTTP_BASIC,
        "alice",
        "d1",
    )
    assert entry.job_id == FULL_REPORT_MODEL.jobId
    assert await inbox.count() == 1
    tasks = await inbox.list_tasks()
    assert [(t.key, t.handler, t.state) for t in tasks] == [("delivery:d1", "h", TaskState.PENDING)]


async def test_customer_layout_keeps_the_parsed_report(inbox: InboxStore) -> None:
    # The body cannot be parsed with a default layout, so the parsed report must be kept.
    odd = IncomingPush(
        "k",
        "application/json",
        b'{"custom": 1}',
        MINIMAL_REPORT_MODEL,
        AuthMethod.NONE,
        default_layout=False,
    )
    await inbox.accept(odd, handlers=[], now=T0)
    entry = await inbox.get("k")
    assert entry is not None
    assert entry.report == MINIMAL_REPORT_MODEL


async def test_concurrent_accepts_of_one_key_create_one_entry(inbox: InboxStore) -> None:
    results = await asyncio.gather(
        *(inbox.accept(push(), handlers=["h1", "h2"], now=T0) for _ in range(20))
    )
    assert sum(r.created for r in results) == 1
    assert sorted(r.times_received for r in results) == list(range(1, 21))
    assert len(await inbox.list_tasks()) == 2


async def test_list_newest_first_with_paging(inbox: InboxStore) -> None:
    for index in range(5):
        await inbox.accept(
            push(f"delivery:{index}"), handlers=[], now=T0 + timedelta(seconds=index)
        )
    keys = [e.key for e in await inbox.list_entries(limit=3)]
    assert keys == ["delivery:4", "delivery:3", "delivery:2"]
    assert [e.key for e in await inbox.list_entries(limit=3, offset=3)] == [
        "delivery:1",
        "delivery:0",
    ]
    assert await inbox.get("delivery:missing") is None


async def test_claim_finish_retry_and_fail(inbox: InboxStore) -> None:
    await inbox.accept(push(), handlers=["a", "b"], now=T0)
    claimed = await inbox.claim_tasks(now=T0, lease=LEASE, limit=10)
    assert sorted(c.task.handler for c in claimed) == ["a", "b"]
    assert all(c.task.state is TaskState.RUNNING and c.task.attempts == 1 for c in claimed)
    assert await inbox.claim_tasks(now=T0, lease=LEASE, limit=10) == []  # leased
    a, b = sorted(claimed, key=lambda c: c.task.handler)
    assert await inbox.finish_task(a, now=T0)
    retry_at = T0 + timedelta(seconds=30)
    assert await inbox.finish_task(b, now=T0, error="boom", retry_at=retry_at)
    assert await inbox.next_task_due() == retry_at
    assert await inbox.claim_tasks(now=T0 + timedelta(seconds=29), lease=LEASE, limit=10) == []
    again = await inbox.claim_tasks(now=retry_at, lease=LEASE, limit=10)
    assert [(c.task.handler, c.task.attempts, c.task.last_error) for c in again] == [
        ("b", 2, "boom")
    ]
    assert await inbox.finish_task(again[0], now=retry_at, error="still broken")
    states = {t.handler: (t.state, t.done_at) for t in await inbox.list_tasks()}
    assert states == {"a": (TaskState.DONE, T0), "b": (TaskState.FAILED, None)}
    assert [t.handler for t in await inbox.list_tasks(state=TaskState.FAILED)] == ["b"]
    assert await inbox.next_task_due() is None
    assert await inbox.retry_failed(now=retry_at) == 1
    assert [
        c.task.handler for c in await inbox.claim_tasks(now=retry_at, lease=LEASE, limit=5)
    ] == ["b"]


async def test_a_stale_claim_cannot_finish(inbox: InboxStore) -> None:
    await inbox.accept(push(), handlers=["h"], now=T0)
    (first,) = await inbox.claim_tasks(now=T0, lease=LEASE, limit=1)
    later = T0 + LEASE
    (second,) = await inbox.claim_tasks(now=later, lease=LEASE, limit=1)  # the lease expired
    assert second.task.attempts == 2
    assert not await inbox.finish_task(first, now=later)
    assert await inbox.finish_task(second, now=later)


async def test_claims_for_one_key_only(inbox: InboxStore) -> None:
    await inbox.accept(push("delivery:1"), handlers=["h"], now=T0)
    await inbox.accept(push("delivery:2"), handlers=["h"], now=T0)
    claimed = await inbox.claim_tasks(now=T0, lease=LEASE, limit=10, key="delivery:2")
    assert [c.task.key for c in claimed] == ["delivery:2"]


async def test_limits_below_one_take_and_list_nothing(inbox: InboxStore) -> None:
    await inbox.accept(push(), handlers=["a", "b"], now=T0)
    for limit in (0, -1):
        assert await inbox.claim_tasks(now=T0, lease=LEASE, limit=limit) == []
        assert await inbox.list_tasks(limit=limit) == []
        assert await inbox.list_entries(limit=limit) == []
    assert [t.handler for t in await inbox.list_tasks(limit=1)] == ["a"]


async def test_one_claim_leases_its_tasks_under_one_fencing_token(inbox: InboxStore) -> None:
    await inbox.accept(push("delivery:1"), handlers=["a", "b"], now=T0)
    await inbox.accept(push("delivery:2"), handlers=["a"], now=T0 - timedelta(seconds=1))
    claimed = await inbox.claim_tasks(now=T0, lease=LEASE, limit=10)
    assert [c.task.key for c in claimed] == ["delivery:2", "delivery:1", "delivery:1"]
    assert len({c.claim_id for c in claimed}) == 1
    assert all(c.task.claim_id == c.claim_id for c in claimed)
    assert all(c.task.claimed_until == T0 + LEASE for c in claimed)


async def test_purge_keeps_pushes_with_open_tasks(inbox: InboxStore) -> None:
    await inbox.accept(push("delivery:done"), handlers=["h"], now=T0)
    await inbox.accept(push("delivery:open"), handlers=["h"], now=T0)
    await inbox.accept(push("delivery:new"), handlers=[], now=T0 + timedelta(days=2))
    (claimed,) = await inbox.claim_tasks(now=T0, lease=LEASE, limit=1, key="delivery:done")
    await inbox.finish_task(claimed, now=T0)
    assert await inbox.purge(received_before=T0 + timedelta(days=1)) == 1
    assert {e.key for e in await inbox.list_entries()} == {"delivery:open", "delivery:new"}
    assert [t.key for t in await inbox.list_tasks()] == ["delivery:open"]


async def test_closed_inbox_raises_storage_error(inbox: InboxStore) -> None:
    await inbox.close()
    with pytest.raises(StorageError):
        await inbox.accept(push(), handlers=[], now=T0)
    await inbox.close()  # twice is fine


async def test_sqlite_inbox_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    first = await open_inbox(f"sqlite:///{path}")
    await first.accept(push(), handlers=["h"], now=T0)
    await first.close()
    second = await open_inbox(f"sqlite:///{path}")
    try:
        assert (await second.accept(push(), handlers=["h"], now=T0)).created is False
        entry = await second.get("delivery:d1")
        assert entry is not None
        assert entry.report == FULL_REPORT_MODEL
        assert [t.state for t in await second.list_tasks()] == [TaskState.PENDING]
    finally:
        await second.close()


async def test_sqlite_group_commit_batches_concurrent_pushes(tmp_path: Path) -> None:
    inbox = await SqliteInbox.open(tmp_path / "inbox.db")
    await inbox.migrate()
    try:
        await asyncio.gather(
            *(inbox.accept(push(f"delivery:{i}"), handlers=[], now=T0) for i in range(200))
        )
        assert await inbox.count() == 200
        assert inbox.batches < 20
    finally:
        await inbox.close()


async def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "inbox.db"
    await (await open_inbox(f"sqlite:///{path}")).close()  # creates the schema
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO inbox_schema_version VALUES (99, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="newer than this faxpush knows"):
        await open_inbox(f"sqlite:///{path}")


@pytest.mark.parametrize(
    "url", ["mysql://localhost/x", "sqlite://relative", "memory", "sqlite:///a.db?x=1"]
)
async def test_bad_inbox_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        await open_inbox(url)


async def test_inbox_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await open_inbox(f"sqlite:///{tmp_path}/missing/inbox.db")


def test_inbox_key_by_delivery_id_or_statuses() -> None:
    assert inbox_key(FULL_REPORT_MODEL, "abc") == "delivery:abc"
    by_report = inbox_key(FULL_REPORT_MODEL, None)
    assert by_report.startswith("report:")
    assert len(by_report) == 7 + 64
    assert inbox_key(FULL_REPORT_MODEL, None) == by_report
    changed = FULL_REPORT_MODEL.model_copy(
        update={
            "faxRecipients": (
                FULL_REPORT_MODEL.faxRecipients[0].model_copy(update={"status": "BUSY"}),
                *FULL_REPORT_MODEL.faxRecipients[1:],
            )
        }
    )
    assert inbox_key(changed, None) != by_report
    # Fields that are not statuses do not change the key (the same report pushed again).
    assert inbox_key(FULL_REPORT_MODEL.model_copy(update={"pages": 9}), None) == by_report


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a", True),
        ("x" * 200, True),
        ("x" * 201, False),
        ("", False),
        ("a b", False),
        ("é", False),
        ("a\tb", False),
    ],
)
def test_delivery_id_syntax(value: str, ok: bool) -> None:
    assert valid_delivery_id(value) is ok
