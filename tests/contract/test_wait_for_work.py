"""Contract: ``wait_for_work`` returns by its timeout, and as soon as another handle (memory,
PostgreSQL's notifications, SQLite's ``PRAGMA data_version``) or, on SQLite, another process
enqueues a push."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore

from .builders import NOW, new_push
from .conftest import SqliteBackend, TrackingBackend

TIMEOUT_S = 10.0
WOKEN_WITHIN_S = 0.5  # SQLite looks every 25 ms; the rest is room for a busy machine
ROOT = Path(__file__).resolve().parents[2]


async def test_an_idle_wait_ends_by_its_timeout(store: Store) -> None:
    started = time.monotonic()
    await asyncio.wait_for(store.wait_for_work(0.05), 5)
    assert time.monotonic() - started < 2


async def test_an_enqueue_through_another_handle_ends_the_wait_at_once(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    waiter, writer = await backend.open(cipher), await backend.open(cipher)
    await waiter.wait_for_work(0.01)  # listening from here on (PostgreSQL; SQLite's baseline)
    waiting = asyncio.create_task(waiter.wait_for_work(TIMEOUT_S))
    await asyncio.sleep(0.05)
    await writer.enqueue(new_push("d1"), now=NOW)
    enqueued = time.monotonic()
    assert await asyncio.wait_for(waiting, TIMEOUT_S + 5)
    assert time.monotonic() - enqueued < WOKEN_WITHIN_S


async def test_a_handles_own_writes_do_not_end_its_wait(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    if not backend.name.startswith("sqlite"):
        pytest.skip("memory and PostgreSQL wake their own handle too (a harmless hint)")
    store = await backend.open(cipher)
    await store.enqueue(new_push("first"), now=NOW)  # with a store process: it runs now
    await store.wait_for_work(0.01)
    waiting = asyncio.create_task(store.wait_for_work(0.5))
    for number in range(5):
        await store.enqueue(new_push(f"own-{number}"), now=NOW)
        await asyncio.sleep(0.03)
    assert not await asyncio.wait_for(waiting, 5)


# A second process queues a push the way `faxpush admin` does: its own SqliteStore.
_ENQUEUE = textwrap.dedent(
    """
    import asyncio, sys
    from faxpush.storage.cipher import SecretCipher
    from faxpush.storage.sqlite import SqliteStore
    from tests.contract.builders import NOW, new_push

    async def main():
        store = await SqliteStore.open(sys.argv[1], SecretCipher([sys.argv[2]]))
        try:
            await store.enqueue(new_push("from-another-process"), now=NOW)
        finally:
            await store.close()
        print("enqueued", flush=True)
        sys.stdin.read()  # stay until told, so that the wait is over before we exit

    asyncio.run(main())
    """
)


async def test_an_enqueue_by_another_process_ends_a_sqlite_wait_at_once(
    backend: TrackingBackend,
) -> None:
    if not isinstance(backend.inner, SqliteBackend):
        pytest.skip("another process reaches only a database file")
    key = generate_key()
    waiter = await backend.open(SecretCipher([key]))
    assert isinstance(waiter, SqliteStore)
    await waiter.enqueue(new_push("own"), now=NOW)  # with a store process: it runs now
    await waiter.wait_for_work(0.01)
    waiting = asyncio.create_task(waiter.wait_for_work(TIMEOUT_S))
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _ENQUEUE,
        waiter.path,
        key,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert other.stdin is not None
    assert other.stdout is not None
    try:
        line = await asyncio.wait_for(other.stdout.readline(), TIMEOUT_S)
        enqueued = time.monotonic()
        assert line == b"enqueued\n"
        assert await asyncio.wait_for(waiting, TIMEOUT_S + 5)
        assert time.monotonic() - enqueued < WOKEN_WITHIN_S
    finally:
        waiting.cancel()
        other.stdin.close()
        await asyncio.wait_for(other.wait(), TIMEOUT_S)
    assert other.returncode == 0
