"""The SQLite store writes through one connection: with a store process, the process's; its
thread's connection then only reads. Real child processes, real database files."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from faxpush.core.errors import StorageError
from faxpush.core.secrets import Secret
from faxpush.storage.base import Account, PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.jobs_base import FinishedJob
from faxpush.storage.sqlite import SqliteStore
from faxpush.storage.sqlite_jobs import SqliteJobStore
from tests.contract.builders import LEASE, NOW, SOON, deliver_all, new_push
from tests.contract.jobs_builders import T0, final_report, new_job, push_for

# Short: with one writing connection nothing waits for SQLite's write lock, so a "database
# is locked" would show at once instead of hiding in a long busy timeout.
BUSY = timedelta(milliseconds=200)


async def _opened(path: Path, *, store_process: bool) -> SqliteStore:
    store = await SqliteStore.open(
        path, SecretCipher([generate_key()]), busy_timeout=BUSY, store_process=store_process
    )
    await store.migrate()
    return store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await _opened(tmp_path / "outbox.db", store_process=True)
    yield opened
    await opened.close()


def _child_pid(store: SqliteStore) -> int:
    process = store._process._process if store._process is not None else None
    assert process is not None, "no store process is running"
    return process.pid


async def test_with_a_store_process_the_thread_connection_never_writes(
    store: SqliteStore,
) -> None:
    await store.enqueue(new_push("d1"), now=NOW)  # the first write starts the process

    with pytest.raises(StorageError, match="readonly database"):
        await store.connection("delete behind the store's back", _delete_all)
    with pytest.raises(StorageError, match="the store process writes"):
        await store._connection.run("write on the thread", _delete_all, write=True)
    assert await store.get_push("d1") is not None
    # the migrations that come later run in the process
    await store.migrate()
    await SqliteJobStore(store).migrate()
    await SqliteJobStore(store).create_job(new_job("FJ1"), now=T0)


def _delete_all(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM pushes")


async def test_concurrent_writes_from_one_loop_all_succeed(store: SqliteStore) -> None:
    jobs = SqliteJobStore(store)
    await jobs.migrate()
    ids = [f"d{n:03d}" for n in range(60)]

    async def enqueue() -> None:
        await asyncio.gather(*(store.enqueue(new_push(i), now=NOW) for i in ids))

    async def claim_and_finish() -> int:  # bounded: the enqueues end within a few rounds
        return await deliver_all(store, len(ids), limit=7, rounds=200, renew=True)

    async def job_writes() -> None:
        for n in range(10):
            await jobs.create_job(new_job(f"FJ{n}"), now=T0)
        await jobs.finish_jobs(
            [
                FinishedJob(f"FJ{n}", final_report(f"FJ{n}"), push_for(f"FJ{n}"), T0)
                for n in range(10)
            ],
            now=T0,
        )

    async def other_writes() -> None:
        for n in range(10):
            await store.put_account(Account(customer_number=f"C{n}"))
            await store.put_token(f"k{n}", Secret("t"), expires_at=SOON + LEASE, now=NOW)

    _, finished, _, _ = await asyncio.wait_for(
        asyncio.gather(enqueue(), claim_and_finish(), job_writes(), other_writes()), 60
    )

    assert finished == len(ids)
    counts = await store.count_by_state()
    assert counts[PushState.DELIVERED] >= len(ids)
    assert counts[PushState.DELIVERED] + counts[PushState.PENDING] == len(ids) + 10
    assert len(await store.list_accounts()) == 10
    assert await store.rotate_secrets() > 0


@pytest.mark.parametrize("store_process", [False, True], ids=["thread", "process"])
@pytest.mark.parametrize("started", [False, True], ids=["first-write", "running"])
async def test_a_cancelled_enqueue_is_committed(
    tmp_path: Path, store_process: bool, started: bool
) -> None:
    store = await _opened(tmp_path / "outbox.db", store_process=store_process)
    try:
        if started:
            await store.enqueue(new_push("d0"), now=NOW)
        task = asyncio.create_task(store.enqueue(new_push("d1"), now=NOW))
        await asyncio.sleep(0)  # the write is called: handed to its connection
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        await store.enqueue(new_push("d2"), now=NOW)  # one writer: runs after d1's commit
        assert await store.get_push("d1") is not None
    finally:
        await store.close()


async def test_the_store_process_dying_mid_run_loses_no_data(store: SqliteStore) -> None:
    stored: set[str] = set()
    failed: set[str] = set()
    ids = [f"d{n:03d}" for n in range(150)]

    async def put(delivery_id: str) -> None:
        try:
            await store.enqueue(new_push(delivery_id), now=NOW)
        except StorageError:
            failed.add(delivery_id)
        else:
            stored.add(delivery_id)

    await put("first")  # starts the process
    pid = _child_pid(store)
    tasks = [asyncio.create_task(put(i)) for i in ids]
    for _ in range(1000):  # bounded: 10 s
        if len(stored) >= 20:
            break
        await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)

    assert len(stored) >= 20
    for delivery_id in stored:  # every answered write was committed
        assert await store.get_push(delivery_id) is not None, delivery_id
    for delivery_id in failed:  # and the others can be written again: a new process
        await store.enqueue(new_push(delivery_id), now=NOW)
    assert _child_pid(store) != pid
    assert (await store.count_by_state())[PushState.PENDING] == len(ids) + 1


async def test_writes_called_while_the_process_starts_commit_in_call_order(
    tmp_path: Path,
) -> None:
    store = await _opened(tmp_path / "outbox.db", store_process=True)
    ids = [f"d{n:02d}" for n in range(40)]
    try:
        calls = []
        for delivery_id in ids:  # one call per turn of the loop, while the process starts
            # Blocking on purpose: the thread's answers (the hand-over) land in the loop's
            # queue while this task runs, ahead of the write called next.
            time.sleep(0.001)  # noqa: ASYNC251 - see above
            calls.append(asyncio.create_task(store.enqueue(new_push(delivery_id), now=NOW)))
            await asyncio.sleep(0)
        calls[0].cancel()  # a cancelled write keeps its place too
        await asyncio.gather(*calls, return_exceptions=True)
        await store.enqueue(new_push("last"), now=NOW)
        found = await store.connection(
            "read the order",
            lambda c: c.execute("SELECT delivery_id FROM pushes ORDER BY rowid").fetchall(),
        )
    finally:
        await store.close()
    assert [row[0] for row in found] == [*ids, "last"]
