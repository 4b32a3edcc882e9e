"""The dispatcher against a receiver behind the fault proxy: every way a connection can break
gives a recorded, retried attempt with a clear error, and nothing is lost once it heals.

The real dispatcher on a real SQLite outbox sends through :class:`tests.faults.FaultProxy` to
an aiohttp receiver on 127.0.0.1 that counts requests per delivery id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from faxpush.core.outcome import Verdict
from faxpush.core.settings import Settings
from faxpush.delivery.hooks import AttemptDetails
from faxpush.storage.base import PushState
from faxpush.storage.cipher import SecretCipher, generate_key
from faxpush.storage.sqlite import SqliteStore
from tests.faults import FaultProxy, Mode

from .servers import serve
from .test_dispatcher import all_final, enqueue, running, settings, wait_until

PUSHES = 4
READ_TIMEOUT = 0.4


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "outbox.db", SecretCipher([generate_key()]))
    await opened.migrate()
    yield opened
    await opened.close()


def fault_settings() -> Settings:
    return settings(
        retry_delays=(0, *(0.1,) * 30),
        read_timeout=READ_TIMEOUT,
        attempt_deadline=1,
        connect_timeout=0.5,
        concurrency=4,
    )


async def _stored(_request: web.Request) -> web.Response:
    return web.Response(text="stored")  # a body, so that a reset can fall in the middle of it


# What each fault leaves in the attempt row: (error class, the HTTP status seen, words of the
# message), and whether the receiver got the request (then a retry is a duplicate for it).
EXPECTED = {
    Mode.RESET_BEFORE_ANSWER: ("connect", None, "127.0.0.1", True),
    Mode.RESET_AFTER_STATUS_LINE: ("connect", None, "127.0.0.1", True),
    Mode.RESET_MID_BODY: ("connect", 200, "127.0.0.1", True),
    Mode.STALL: ("timeout", None, f"{READ_TIMEOUT:g} s", False),
    Mode.CUT: ("connect", None, "127.0.0.1", False),
}


@pytest.mark.parametrize("fault", list(EXPECTED), ids=lambda m: m.name.lower())
async def test_a_fault_is_retried_and_delivered_once_healed(
    store: SqliteStore, fault: Mode
) -> None:
    error_class, status, words, reaches_receiver = EXPECTED[fault]
    seen: list[AttemptDetails] = []
    async with serve(_stored) as receiver, FaultProxy(receiver.port) as proxy:
        proxy.mode = fault
        ids = await enqueue(store, proxy.url("/hook"), PUSHES)
        async with running(store, fault_settings(), hooks=(seen.append,)):

            async def each_failed_once() -> bool:
                return {d.delivery_id for d in seen} == set(ids)

            await wait_until(each_failed_once, 10)
            proxy.restore()
            await wait_until(lambda: all_final(store), 10)
    assert (await store.count_by_state())[PushState.DELIVERED] == PUSHES
    answered = Counter(r.headers["Faxpush-Delivery-Id"] for r in receiver.requests)
    for delivery_id in ids:
        attempts = await store.list_attempts(delivery_id)
        *failed, last = attempts
        assert failed, "the first attempt met the fault"
        assert (last.http_status, last.error_class) == (200, None)
        for attempt in failed:
            assert (attempt.error_class, attempt.http_status) == (error_class, status), (
                attempt.error_message
            )
            assert attempt.error_message is not None
            assert words in attempt.error_message, attempt.error_message
        # At least once: every request that reached the receiver counts, no more.
        assert answered[delivery_id] == (len(attempts) if reaches_receiver else 1)
    retried = [d for d in seen if d.verdict is Verdict.RETRY]
    assert len(retried) + PUSHES == len(seen)
    if fault is Mode.STALL:
        assert all(d.duration_ms >= READ_TIMEOUT * 1000 * 0.9 for d in retried)


async def test_faults_in_turn_on_kept_alive_connections_lose_nothing(store: SqliteStore) -> None:
    """The proxy changes mode every 0.15 s while 60 pushes go through the same pool."""
    cycle = [*EXPECTED, Mode.PASS, Mode.PASS]
    async with serve(_stored) as receiver, FaultProxy(receiver.port) as proxy:
        ids = await enqueue(store, proxy.url("/hook"), 60)
        async with running(store, fault_settings()):
            for turn in range(40):
                proxy.mode = cycle[turn % len(cycle)]
                await asyncio.sleep(0.15)
                if await all_final(store):
                    break
            proxy.restore()
            await wait_until(lambda: all_final(store), 15)
    assert (await store.count_by_state())[PushState.DELIVERED] == 60
    answered = Counter(r.headers["Faxpush-Delivery-Id"] for r in receiver.requests)
    assert set(answered) == set(ids)
    for delivery_id in ids:
        attempts = await store.list_attempts(delivery_id)
        assert attempts[-1].http_status == 200
        assert attempts[-1].error_class is None
        assert answered[delivery_id] <= len(attempts)


async def test_a_stall_ends_at_the_attempt_deadline_when_it_comes_first(
    store: SqliteStore,
) -> None:
    config = settings(retry_delays=(0, 0.1, 0.1, 0.1), read_timeout=5, attempt_deadline=0.5)
    seen: list[AttemptDetails] = []
    async with serve(_stored) as receiver, FaultProxy(receiver.port) as proxy:
        proxy.mode = Mode.STALL
        (delivery_id,) = await enqueue(store, proxy.url("/hook"), 1)
        async with running(store, config, hooks=(seen.append,)):

            async def stalled_once() -> bool:
                return bool(seen)

            await wait_until(stalled_once, 10)
            proxy.restore()
            await wait_until(lambda: all_final(store), 10)
    first, *_, last = await store.list_attempts(delivery_id)
    assert (first.error_class, first.http_status) == ("timeout", None)
    assert first.error_message == "no answer within the 0.5 s deadline"
    assert 450 <= first.duration_ms < 2000
    assert (last.http_status, last.error_class) == (200, None)
    assert len(receiver.requests) == 1
