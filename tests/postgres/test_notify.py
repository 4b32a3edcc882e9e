"""LISTEN/NOTIFY: idle workers wake up when work arrives; waits time out without it."""

from __future__ import annotations

import asyncio

import pytest

from faxpush.storage.postgres import PostgresStore
from tests import pg_support
from tests.contract.builders import LEASE, NOW, SOON, enqueue_many, new_push

from .conftest import OpenStore

pytestmark = pytest.mark.postgres


async def _listening(store: PostgresStore) -> None:
    """Start the store's listener and wait (bounded) until its LISTEN session is up."""
    await store.wait_for_work(0.01)
    for _ in range(500):
        if store.listening:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the LISTEN session did not come up within 5 s")


async def _woken_within(store: PostgresStore, seconds: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await store.wait_for_work(seconds)
    return loop.time() - started


async def test_without_notifications_the_wait_lasts_its_timeout(open_store: OpenStore) -> None:
    store = await open_store()
    await _listening(store)
    waited = await _woken_within(store, 0.3)
    assert 0.25 <= waited < 2


async def test_an_enqueue_on_another_connection_wakes_the_waiter(open_store: OpenStore) -> None:
    waiter, producer = await open_store(), await open_store()
    await _listening(waiter)
    wait = asyncio.create_task(_woken_within(waiter, 20))
    await asyncio.sleep(0.05)
    await producer.enqueue(new_push("d1"), now=NOW)
    assert await asyncio.wait_for(wait, 10) < 5


async def test_a_push_put_back_to_pending_wakes_the_waiter(open_store: OpenStore) -> None:
    waiter, worker = await open_store(), await open_store()
    await enqueue_many(worker, 1)
    (claim,) = await worker.claim(worker_id="w", limit=1, lease=LEASE, now=SOON)
    await _listening(waiter)
    assert await _woken_within(waiter, 0.2) >= 0.15  # the claim itself notifies nobody

    wait = asyncio.create_task(_woken_within(waiter, 20))
    await asyncio.sleep(0.05)
    assert await worker.release([(claim.push.delivery_id, claim.claim_id)], now=SOON) == 1
    assert await asyncio.wait_for(wait, 10) < 5


async def test_a_notification_sent_between_waits_is_not_lost(open_store: OpenStore) -> None:
    waiter, producer = await open_store(), await open_store()
    await _listening(waiter)
    await producer.enqueue(new_push("d1"), now=NOW)
    await asyncio.sleep(0.2)  # delivered while nobody waits
    assert await _woken_within(waiter, 20) < 5
    assert await _woken_within(waiter, 0.2) >= 0.15  # and consumed by that wake-up


async def test_the_listener_comes_back_after_its_session_is_terminated(
    open_store: OpenStore, pg_url: str
) -> None:
    waiter, producer = await open_store(), await open_store()
    await _listening(waiter)
    await pg_support.terminate_sessions(pg_url)
    for _ in range(200):
        if not waiter.listening:
            break
        await asyncio.sleep(0.01)
    await _listening(waiter)
    # Whatever was sent while it was down may be lost, so the first wait returns at once.
    assert await _woken_within(waiter, 20) < 5

    wait = asyncio.create_task(_woken_within(waiter, 20))
    await asyncio.sleep(0.05)
    await producer.enqueue(new_push("d2"), now=NOW)
    assert await asyncio.wait_for(wait, 10) < 5


async def test_cancelling_a_wait_leaves_the_listener_usable(open_store: OpenStore) -> None:
    waiter, producer = await open_store(), await open_store()
    await _listening(waiter)
    wait = asyncio.create_task(waiter.wait_for_work(20))
    await asyncio.sleep(0.05)
    wait.cancel()
    with pytest.raises(asyncio.CancelledError):
        await wait
    await producer.enqueue(new_push("d1"), now=NOW)
    assert await _woken_within(waiter, 20) < 5
