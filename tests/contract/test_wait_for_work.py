"""Contract: ``wait_for_work`` returns by its timeout, and, where the backend can tell
(memory, PostgreSQL's notifications), as soon as another handle enqueues a push."""

from __future__ import annotations

import asyncio
import time

from faxpush.storage.base import Store
from faxpush.storage.cipher import SecretCipher

from .builders import NOW, new_push
from .conftest import TrackingBackend

TELLS = {"memory", "postgres"}  # SQLite cannot see another process's writes


async def test_an_idle_wait_ends_by_its_timeout(store: Store) -> None:
    started = time.monotonic()
    await asyncio.wait_for(store.wait_for_work(0.05), 5)
    assert time.monotonic() - started < 2


async def test_an_enqueue_through_another_handle_ends_the_wait_early_where_it_can_tell(
    backend: TrackingBackend, cipher: SecretCipher
) -> None:
    tells = backend.name in TELLS
    timeout = 20.0 if tells else 0.5
    waiter, writer = await backend.open(cipher), await backend.open(cipher)
    await waiter.wait_for_work(0.01)  # listening from here on (PostgreSQL)
    started = time.monotonic()
    waiting = asyncio.create_task(waiter.wait_for_work(timeout))
    await asyncio.sleep(0.05)
    await writer.enqueue(new_push("d1"), now=NOW)
    await asyncio.wait_for(waiting, timeout + 5)
    elapsed = time.monotonic() - started
    if tells:
        assert elapsed < 5
    else:
        assert elapsed >= timeout * 0.9, "a backend that cannot tell waits its whole timeout"
